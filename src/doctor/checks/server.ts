/**
 * Each NATS server: it answers, it is in the cluster the operator said (cluster name = region),
 * JetStream is on, and with several servers in a region they are routed to each other.
 */
import { reachable, serverLabel } from '../servers.js';
import type { CheckLine, Snapshot } from '../types.js';

export function checkServers(s: Snapshot): CheckLine[] {
  const lines: CheckLine[] = [];
  const known = new Set(s.topology.regions.map((r) => r.name));
  for (const p of s.servers) {
    if (p.error !== undefined || p.varz === undefined) {
      lines.push({ check: 'nats server', subject: `${p.region} ${p.url}`, verdict: 'FAIL', detail: `monitoring endpoint unreachable: ${p.error ?? 'no /varz'}` });
      continue;
    }
    const v = p.varz;
    const cluster = v.cluster?.name;
    const problems: string[] = [];
    if (!known.has(p.region)) problems.push(`region "${p.region}" is not in the topology`);
    if (cluster !== p.region) problems.push(cluster === undefined || cluster === '' ? 'no cluster block (the cluster name must be the region)' : `its cluster is "${cluster}", not ${p.region}`);
    if (p.jsz === undefined || p.jsz.disabled === true || v.jetstream?.config === undefined) problems.push('JetStream is off (Meridian keeps logs and buckets on JetStream)');
    const base = `v${v.version ?? '?'}, cluster ${cluster ?? '-'}, up ${v.uptime ?? '?'}`;
    lines.push({ check: 'nats server', subject: serverLabel(p), verdict: problems.length > 0 ? 'FAIL' : 'ok', detail: problems.length > 0 ? `${problems.join('; ')} (${base})` : base });
  }
  // Routes inside a region: each server of a k-server cluster is routed to the k-1 others.
  const byRegion = new Map<string, number>();
  for (const p of s.servers) byRegion.set(p.region, (byRegion.get(p.region) ?? 0) + 1);
  for (const p of reachable(s)) {
    const k = byRegion.get(p.region) ?? 1;
    if (k < 2 || p.routez === undefined) continue;
    const routes = p.routez.num_routes ?? p.routez.routes?.length ?? 0;
    lines.push({
      check: 'cluster routes',
      subject: serverLabel(p),
      verdict: routes >= k - 1 ? 'ok' : 'FAIL',
      detail: `${routes} route${routes === 1 ? '' : 's'} to the ${k - 1} other server${k - 1 === 1 ? '' : 's'} of ${p.region}`,
    });
  }
  return lines;
}
