/**
 * The doctor's I/O: read every NATS monitoring endpoint (/varz, /gatewayz, /jsz with accounts and
 * streams, /routez), every region node (/ready, /health) and every TLS endpoint's certificate, all
 * at once and each bounded by a timeout, into one `Snapshot`. A failure is recorded on its probe,
 * never thrown: an unreachable server is a finding, not a crash.
 */
import { Agent, fetch } from 'undici';
import type { Topology } from '../topology/mod.js';
import type { Gatewayz, Jsz, Routez, Varz } from './nats-json.js';
import { httpsCert, natsCert } from './tls-peer.js';
import type { PeerCert } from './tls-peer.js';
import type { CertProbe, HttpAnswer, NodeProbe, ServerProbe, Snapshot, Target } from './types.js';

export interface CollectOptions {
  readonly topology: Topology;
  /** NATS monitoring base URLs (http(s)://host:8222), by region. */
  readonly natsMonitors: readonly Target[];
  /** Region node base URLs; undefined: region nodes are not checked. */
  readonly regionNodes?: readonly Target[];
  /** NATS client URLs whose certificates to read (the ones not using TLS are skipped). */
  readonly natsClients?: readonly Target[];
  /** Per request; default 3000 ms. */
  readonly timeoutMs?: number;
  /**
   * PEM CA certificate(s) that https endpoints and TLS certificates must chain to (a deployment's
   * private CA, `tls/ca.pem`). Without it https uses the system roots and certificates are only read.
   */
  readonly ca?: string;
}

const message = (err: unknown): string => {
  const e = err as { cause?: { code?: string; message?: string }; code?: string; name?: string; message?: string };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  const text = e.cause?.code ?? e.cause?.message ?? e.code ?? e.message ?? String(err);
  // A certificate the system roots do not know: most likely the deployment's own CA.
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(text) ? `${text} (a private CA? pass it with --ca FILE)` : text;
};

interface Http {
  readonly timeoutMs: number;
  readonly dispatcher: Agent | undefined;
}

async function getJson(base: string, path: string, http: Http): Promise<HttpAnswer> {
  const res = await fetch(new URL(path, base), { signal: AbortSignal.timeout(http.timeoutMs), ...(http.dispatcher === undefined ? {} : { dispatcher: http.dispatcher }) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // not JSON: keep the text for the report
  }
  return { status: res.status, body };
}

async function json<T>(base: string, path: string, http: Http): Promise<T> {
  const a = await getJson(base, path, http);
  if (a.status !== 200 || typeof a.body !== 'object' || a.body === null) throw new Error(`GET ${path}: HTTP ${a.status}`);
  return a.body as T;
}

async function probeServer(t: Target, http: Http): Promise<ServerProbe> {
  try {
    const start = Date.now();
    const varz = await json<Varz>(t.url, '/varz', http);
    const end = Date.now();
    const [gatewayz, jsz, routez] = await Promise.all([
      json<Gatewayz>(t.url, '/gatewayz', http),
      json<Jsz>(t.url, '/jsz?accounts=true&streams=true', http),
      json<Routez>(t.url, '/routez', http),
    ]);
    return { ...t, varz, gatewayz, jsz, routez, varzClock: { midMs: (start + end) / 2, rttMs: end - start } };
  } catch (err) {
    return { ...t, error: message(err) };
  }
}

async function probeNode(t: Target, http: Http): Promise<NodeProbe> {
  try {
    const [ready, health] = await Promise.all([getJson(t.url, '/ready', http), getJson(t.url, '/health', http)]);
    return { ...t, ready, health };
  } catch (err) {
    return { ...t, error: message(err) };
  }
}

async function probeCert(kind: string, t: Target, timeoutMs: number, ca: string | undefined): Promise<CertProbe | null> {
  const url = new URL(t.url);
  const endpoint = url.host;
  try {
    const cert: PeerCert | null = url.protocol === 'https:' ? await httpsCert(url, timeoutMs, ca) : await natsCert(url, timeoutMs, ca);
    return cert === null ? null : { kind, region: t.region, endpoint, ...cert };
  } catch (err) {
    return { kind, region: t.region, endpoint, error: message(err) };
  }
}

export async function collect(o: CollectOptions): Promise<Snapshot> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const tlsTargets: Array<[string, Target]> = [
    ...o.natsMonitors.filter((t) => t.url.startsWith('https:')).map((t): [string, Target] => ['NATS monitor', t]),
    ...(o.regionNodes ?? []).filter((t) => t.url.startsWith('https:')).map((t): [string, Target] => ['region node', t]),
    ...(o.natsClients ?? []).map((t): [string, Target] => ['NATS client', t]),
  ];
  const http: Http = { timeoutMs, dispatcher: o.ca === undefined ? undefined : new Agent({ connect: { ca: o.ca } }) };
  const [servers, nodes, certs] = await Promise.all([
    Promise.all(o.natsMonitors.map((t) => probeServer(t, http))),
    o.regionNodes === undefined ? Promise.resolve(undefined) : Promise.all(o.regionNodes.map((t) => probeNode(t, http))),
    Promise.all(tlsTargets.map(([kind, t]) => probeCert(kind, t, timeoutMs, o.ca))),
  ]).finally(() => http.dispatcher?.destroy());
  return {
    topology: o.topology,
    servers,
    ...(nodes === undefined ? {} : { nodes }),
    certs: certs.filter((c): c is CertProbe => c !== null),
    takenAtMs: Date.now(),
  };
}
