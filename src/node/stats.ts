/**
 * What the node's observability endpoints answer (routes/observability.ts serves them;
 * docs/observability.md has the shapes): the `/stats` summary, the `/v1/slo` report, and the
 * delivery rates and region round trips the node also reports to its peers and its metrics.
 */
import type { NodeMetrics } from '../observability/metrics.js';
import type { RegionView } from './regions.js';

/** What a node tells other nodes about its deliveries (rides on its status answer). */
export interface DeliveryStats {
  /** 1-min rate of deliveries on this node, by the region that accepted the send. */
  readonly deliveredFrom?: Record<string, number>;
  /** The same over the last 5 s (absent from nodes of older versions). */
  readonly deliveredFromNow?: Record<string, number>;
}

/** Fields added to this node's status answer so peers can compute deliveries by destination. */
export function deliveryStats(m: NodeMetrics): DeliveryStats {
  return { deliveredFrom: m.deliveredFrom.rates(), deliveredFromNow: m.deliveredFromNow.rates() };
}

const round = (v: number | null, digits = 3): number | null => (v === null || !Number.isFinite(v) ? null : Math.round(v * 10 ** digits) / 10 ** digits);

/** The node's round trip to every other region (ms, null: unreachable), from the region view. */
export async function regionRtts(view: RegionView, self: string): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  await Promise.all(
    view.topology.regions
      .filter((r) => r.name !== self)
      .map(async (r) => {
        const s = await view.state(r.name);
        out[r.name] = s.reachable ? (s.rttMs ?? null) : null;
      }),
  );
  return out;
}

/**
 * Deliveries per second of messages accepted in this region, by destination region: 1-min rates
 * (`minute`) and 5-s rates (`now`). A peer's come from its status answer (cached up to 2 s), so
 * `now` trails what happens by a few seconds at most.
 */
async function crossRegion(m: NodeMetrics, view: RegionView): Promise<{ minute: Record<string, number>; now: Record<string, number> }> {
  const minute: Record<string, number> = {};
  const now: Record<string, number> = {};
  await Promise.all(
    m.regions.map(async (dest) => {
      if (dest === m.region) {
        minute[dest] = round(m.deliveredFrom.perSec(m.region)) ?? 0;
        now[dest] = round(m.deliveredFromNow.perSec(m.region)) ?? 0;
        return;
      }
      const s = await view.state(dest);
      const peer = s.nodes[0] as DeliveryStats | undefined;
      minute[dest] = round(peer?.deliveredFrom?.[m.region] ?? 0) ?? 0;
      now[dest] = round(peer?.deliveredFromNow?.[m.region] ?? 0) ?? 0;
    }),
  );
  return { minute, now };
}

export async function nodeStats(m: NodeMetrics, view: RegionView): Promise<unknown> {
  const s = m.sources;
  const [rtt, cross] = await Promise.all([m.refreshRtt(), crossRegion(m, view)]);
  const slo = m.slo.report();
  const w5 = slo.windows['5m'];
  const rep = m.replicationSummary();
  return {
    region: m.region,
    node: m.node,
    uptimeS: round((m.clock() - m.startedAt) / 1000, 1),
    sessions: s?.sessions() ?? 0,
    connections: s?.connections() ?? 0,
    messagesPerSec: round(m.sendRate.perSec()),
    deliveriesPerSec: round(m.deliveryRate.perSec()),
    crossRegion: cross.minute,
    crossRegionNow: cross.now,
    latencyMs: { p50: round(w5.p50Ms), p95: round(w5.p95Ms), p99: round(w5.p99Ms) },
    bus: { status: m.busStatusName, rttMs: rtt },
    slo: { ok: slo.ok, availability: round(w5.availability, 6), p95Ms: round(w5.p95Ms), p99Ms: round(w5.p99Ms), burnRate5m: round(slo.burnRate5m), burnRate1h: round(slo.burnRate1h) },
    replication: { lagP99Ms: round(rep.lagP99Ms), copies5m: rep.copies5m, failures1m: rep.failures1m },
    takeovers: m.takeoverSummary(),
  };
}

export function nodeSlo(m: NodeMetrics): unknown {
  return { region: m.region, node: m.node, ...m.slo.report() };
}
