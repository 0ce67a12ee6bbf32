/**
 * One dashboard frame as data: every region with its place, health (from the edge's monitor),
 * the edge's own load towards it, the node's /stats (connections, rates, latency, SLO), the flows
 * between regions (cross-region deliveries per second, from each sender's /stats) and the
 * steering decisions. Built from what the edge already has; the page only draws it.
 */
import type { RegionHealth } from '../health/types.js';
import type { EdgeContext } from '../server/context.js';
import type { Topology } from '../../topology/mod.js';
import { sloTargetsFor } from '../../topology/mod.js';
import type { NodeStats, RegionStatsPoller } from './stats.js';
import type { Place, SteeringView } from './steering.js';
import { steeringView } from './steering.js';

/**
 * up: probes pass and steering uses it. degraded: it serves but something is off (ejected by
 * outlier detection, failing probes not yet over the threshold, SLO breached). down: probes fail
 * (or it has no URL). unknown: no probe has finished yet.
 */
export type HealthState = 'up' | 'degraded' | 'down' | 'unknown';

export interface RegionFrame {
  readonly name: string;
  readonly city: string | null;
  readonly jurisdiction: string;
  readonly lat: number;
  readonly lon: number;
  readonly state: HealthState;
  /** Why it is not up (the monitor's last error, "ejected", "SLO breached"), or null. */
  readonly detail: string | null;
  /** Steering may send new clients there. */
  readonly healthy: boolean;
  /** What the edge itself carries there: open proxied WebSockets and HTTP requests per second. */
  readonly edge: { readonly connections: number; readonly rps: number };
  /** Edge→region HTTP round trip (GET /health), ms. */
  readonly edgeRttMs: number | null;
  /** The node's /stats, null when it has none or did not answer recently. */
  readonly stats: NodeStats | null;
  /** Why /stats is missing (`http 404`, `timeout`, `unreachable`), or null. */
  readonly statsError: string | null;
  /**
   * The SLO targets the region is held to (the topology's `slo:`; an absent one null), or null
   * when the topology sets none: its node then reports every window "ok", which means nothing,
   * so the page says "no targets" instead of "met".
   */
  readonly sloTargets: SloTargetsView | null;
  /**
   * The region whose nodes write the conversations homed here after a takeover (src/failover),
   * as any region's /stats reports it; null: this region writes its own.
   */
  readonly writtenBy: string | null;
}

export interface SloTargetsView {
  readonly availability: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly errorRate: number | null;
}

/**
 * The targets `region` is evaluated against (the global `slo:` fields with its `slo.regions`
 * entry over them, as its nodes merge them from the same topology file), or null when none.
 */
export function sloTargetsOf(topology: Topology, region: string): SloTargetsView | null {
  const t = sloTargetsFor(topology, region);
  const view = { availability: t.availability ?? null, p95Ms: t.p95Ms ?? null, p99Ms: t.p99Ms ?? null, errorRate: t.errorRate ?? null };
  return Object.values(view).every((v) => v === null) ? null : view;
}

export interface FlowFrame {
  readonly from: string;
  readonly to: string;
  /**
   * Cross-region deliveries per second, as the sending region reports them, over the last 5 s
   * (`crossRegionNow`: a flow grows or stops on the map within seconds), or over the last minute
   * from a node that reports only that.
   */
  readonly perSec: number;
  /** The one-minute rate. */
  readonly perSec1m: number;
  /** One end is down: what is drawn is the last rate known, not traffic that flows now. */
  readonly stalled: boolean;
}

export interface Snapshot {
  readonly at: number;
  readonly regions: readonly RegionFrame[];
  readonly flows: readonly FlowFrame[];
  readonly steering: SteeringView;
}

export function healthState(h: RegionHealth | null, sloOk: boolean | null): { state: HealthState; detail: string | null } {
  if (h === null) return { state: 'down', detail: 'no URL configured' };
  if (h.probeHealthy === null) return { state: 'unknown', detail: 'no probe finished yet' };
  if (h.probeHealthy === false) return { state: 'down', detail: h.lastError ?? 'probes failing' };
  if (h.ejectedUntil !== null) return { state: 'degraded', detail: 'ejected by outlier detection' };
  if (h.consecutiveFail > 0) return { state: 'degraded', detail: h.lastError ?? 'a probe failed' };
  if (sloOk === false) return { state: 'degraded', detail: 'SLO breached' };
  return { state: 'up', detail: null };
}

/**
 * Home → the region writing its conversations, from the takeovers every region reports (a home
 * that is down reports nothing: its replica, or any region that heard of it, does).
 */
export function writersOf(stats: readonly (NodeStats | null)[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of stats) for (const t of s?.takeovers?.known ?? []) if (t.home !== t.owner) out.set(t.home, t.owner);
  return out;
}

export function buildSnapshot(ctx: EdgeContext, stats: RegionStatsPoller, places: readonly Place[], now: number): Snapshot {
  const writers = writersOf(ctx.topology.regions.map((r) => stats.get(r.name).stats));
  const regions = ctx.topology.regions.map((r): RegionFrame => {
    const h = ctx.urls.has(r.name) ? ctx.monitor.health(r.name) : null;
    const e = stats.get(r.name);
    const { state, detail } = healthState(h, e.stats?.slo?.ok ?? null);
    return {
      name: r.name,
      city: r.location.city ?? null,
      jurisdiction: r.jurisdiction,
      lat: r.location.lat,
      lon: r.location.lon,
      state,
      detail,
      healthy: h?.healthy ?? false,
      edge: { connections: ctx.load.connections(r.name), rps: round(ctx.load.rps(r.name)) },
      edgeRttMs: e.rttMs === null ? null : round(e.rttMs),
      // A region down serves nobody: its last numbers would read as current.
      stats: state === 'down' ? null : e.stats,
      statsError: e.error,
      sloTargets: sloTargetsOf(ctx.topology, r.name),
      writtenBy: writers.get(r.name) ?? null,
    };
  });
  const states = new Map(regions.map((r) => [r.name, r.state]));
  const flows: FlowFrame[] = [];
  for (const r of regions) {
    // The last rates known, also from a region just gone down: drawn as stalled flows.
    const s = stats.get(r.name).stats;
    for (const [to, perSec] of Object.entries(s?.crossRegionNow ?? s?.crossRegion ?? {})) {
      if (to === r.name || !states.has(to) || perSec <= 0) continue;
      flows.push({ from: r.name, to, perSec: round(perSec), perSec1m: round(s?.crossRegion[to] ?? 0), stalled: r.state === 'down' || states.get(to) === 'down' });
    }
  }
  return { at: now, regions, flows, steering: steeringView(ctx, places) };
}

const round = (n: number): number => Math.round(n * 10) / 10;
