/**
 * The doctor's `region=url,...` lists (several URLs per region allowed, for regions with more
 * than one server), and the default NATS monitoring URLs derived from the topology when none are
 * given: each region's NATS hosts (`regions[].nats`) on the monitoring port of `deploy.nats.ports`.
 */
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { Topology } from '../topology/mod.js';
import type { Target } from './types.js';

/**
 * Parse `us-east=http://a:8222,us-east=http://b:8222,eu-west=...`; every region must be in the
 * topology and every URL one of `schemes`.
 */
export function parseTargets(text: string, topology: Topology, schemes: readonly string[], what: string): Target[] {
  const known = topology.regions.map((r) => r.name);
  const out: Target[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new MeridianError(ErrorCode.InvalidArgument, `${what}: "${part}" is not region=url`, { details: { part } });
    const region = part.slice(0, eq);
    const text = part.slice(eq + 1);
    if (!known.includes(region)) throw new MeridianError(ErrorCode.InvalidArgument, `${what}: region "${region}" is not in the topology (known: ${known.join(', ')})`, { details: { region } });
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new MeridianError(ErrorCode.InvalidArgument, `${what}: "${text}" is not a URL`, { details: { region } });
    }
    if (!schemes.includes(url.protocol.replace(/:$/, ''))) throw new MeridianError(ErrorCode.InvalidArgument, `${what}: ${text} must be ${schemes.join(' or ')}://`, { details: { region } });
    out.push({ region, url: url.protocol.startsWith('http') ? url.origin : `${url.protocol}//${url.host}` });
  }
  if (out.length === 0) throw new MeridianError(ErrorCode.InvalidArgument, `${what}: no region=url pairs`);
  return out;
}

/** NATS client URLs of the topology (`regions[].nats`), by region. */
export function topologyNatsUrls(topology: Topology): Target[] {
  return topology.regions.flatMap((r) => (r.nats ?? []).map((url) => ({ region: r.name, url })));
}

/** Monitoring URLs guessed from the topology's NATS hosts: http://<host>:<deploy.nats.ports.monitor>. */
export function defaultMonitors(topology: Topology): Target[] {
  const port = topology.deploy.nats.ports.monitor;
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const t of topologyNatsUrls(topology)) {
    let host: string;
    try {
      host = new URL(t.url).hostname;
    } catch {
      continue;
    }
    const url = `http://${host}:${port}`; // an IPv6 hostname keeps its brackets
    if (!seen.has(`${t.region} ${url}`)) out.push({ region: t.region, url });
    seen.add(`${t.region} ${url}`);
  }
  return out;
}
