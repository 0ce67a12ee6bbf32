/**
 * What the super-cluster harness knows about NATS gateways: who dialed a gateway connection
 * (from its CONNECT line, so one proxy can play a different link per peer), and when a server's
 * gateways are ready, read from its monitoring endpoints.
 */
import { fetchMonitor, parseGoDurationMs } from './monitor.js';
import type { Gatewayz, Jsz } from './monitor.js';

/**
 * The dialing region of a gateway connection, from the first line its client sends:
 * `CONNECT {"gateway":"us-east",...}`. Undefined while the line is incomplete; null if the
 * connection is not a gateway (it is then dropped).
 */
export function gatewayConnectName(head: Buffer): string | null | undefined {
  const end = head.indexOf('\r\n');
  if (end < 0) return undefined;
  const line = head.subarray(0, end).toString('utf8');
  if (!line.startsWith('CONNECT ')) return null;
  try {
    const connect = JSON.parse(line.slice('CONNECT '.length)) as { gateway?: unknown };
    return typeof connect.gateway === 'string' && connect.gateway !== '' ? connect.gateway : null;
  } catch {
    return null;
  }
}

/**
 * Why `self` (monitored at `httpUrl`) is not ready yet, or undefined when it is: /healthz ok
 * (with JetStream that includes contact with the meta leader), an outbound gateway with a
 * measured RTT and an inbound one for every peer, and (with JetStream) membership in the meta
 * group per /jsz.
 */
export async function gatewayReadinessProblem(
  httpUrl: string,
  self: string,
  peers: readonly string[],
  jetstream: boolean,
): Promise<string | undefined> {
  const health = await fetchMonitor<{ status?: string }>(httpUrl, '/healthz').catch((e: unknown) => ({ status: String(e) }));
  if (health.status !== 'ok') return `/healthz: ${health.status ?? '?'}`;
  const gw = await fetchMonitor<Gatewayz>(httpUrl, '/gatewayz');
  for (const other of peers) {
    if (other === self) continue;
    const out = gw.outbound_gateways?.[other]?.connection;
    if (out === undefined) return `no outbound gateway to ${other}`;
    // A fresh connection reports RTT 0 until its first ping, and NATS sorts gateways by RTT
    // for queue groups: wait for a measured value so routing is settled.
    if (!(parseGoDurationMs(out.rtt ?? '') > 0)) return `outbound gateway to ${other} has no RTT yet`;
    if ((gw.inbound_gateways?.[other] ?? []).length === 0) return `no inbound gateway from ${other}`;
  }
  if (jetstream) {
    // /healthz already requires contact with the meta leader; /jsz may name that leader only
    // seconds later (after server stats arrive), so its name is not awaited.
    const jsz = await fetchMonitor<Jsz>(httpUrl, '/jsz');
    if (jsz.disabled === true || jsz.meta_cluster === undefined) return 'JetStream meta group not joined';
  }
  return undefined;
}

/** RTT in ms of each outbound gateway connection of `self`, by remote gateway name. */
export async function outboundGatewayRtts(httpUrl: string, self: string): Promise<Record<string, number>> {
  const gw = await fetchMonitor<Gatewayz>(httpUrl, '/gatewayz');
  const out: Record<string, number> = {};
  for (const [name, entry] of Object.entries(gw.outbound_gateways ?? {})) {
    const rtt = entry.connection?.rtt;
    if (name !== self && rtt !== undefined) out[name] = parseGoDurationMs(rtt);
  }
  return out;
}
