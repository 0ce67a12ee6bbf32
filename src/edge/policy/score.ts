/**
 * The soft half of steering: a weighted score over regions that passed the hard constraints.
 * Every part is normalised to [0, 1] with 1 best, so the topology's weights (default
 * 0.4 proximity / 0.3 health / 0.2 latency / 0.1 cost) read as shares of the decision.
 */
import { greatCircleKm } from '../../topology/mod.js';
import type { LatLon, Region, Topology } from '../../topology/mod.js';
import type { RegionState, RttKind, ScoreParts } from './types.js';

/** Half the Earth's circumference (mean radius 6371.0088 km): the farthest two points can be. */
export const HALF_CIRCUMFERENCE_KM = Math.PI * 6371.0088;
/** Fixed part of an estimated RTT: last mile, TLS and server time, which distance does not explain. */
export const RTT_BASE_MS = 10;
/** RTTs at or past this are equally bad: latency part 0. */
export const RTT_CEILING_MS = 500;
/** The value of a part nobody can know (no client location, no measurement): equal for all. */
export const NEUTRAL_PART = 0.5;

export interface Scored {
  readonly score: number;
  readonly parts: ScoreParts;
  readonly distanceKm?: number;
  readonly rttMs?: number;
  readonly rtt: RttKind;
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * Estimated client→region RTT: there and back at the WAN model's speed (`wan.msPer100Km`, the
 * same figure the embedded bus simulates links with) plus a fixed base.
 */
export function estimateRttMs(topology: Topology, km: number): number {
  return RTT_BASE_MS + 2 * (km / 100) * topology.wan.msPer100Km;
}

/** Headroom under the tighter of the two caps: 1 idle, 0 at or over a cap or unhealthy. */
export function headroom(region: Region, state: RegionState): number {
  if (!state.healthy) return 0;
  return clamp01(1 - Math.max(state.connections / region.capacity.connections, state.rps / region.capacity.rps));
}

/**
 * Cost relative to the regions' costs: the cheapest scores 1, and a region loses the share of
 * the most expensive cost it costs above the cheapest (1 - (cost - min) / max). Normalised over
 * every region of the topology, not just the eligible ones, so a region's cost part does not
 * change when another region fails.
 */
export function costPart(cost: number, min: number, max: number): number {
  return max <= 0 ? 1 : clamp01(1 - (cost - min) / max);
}

export function latencyPart(rttMs: number): number {
  return 1 - Math.min(rttMs, RTT_CEILING_MS) / RTT_CEILING_MS;
}

export interface ScoreInput {
  readonly topology: Topology;
  readonly region: Region;
  readonly state: RegionState;
  readonly location: LatLon | undefined;
  /** A measured RTT, already checked finite and ≥ 0, or undefined. */
  readonly measuredRttMs: number | undefined;
  readonly costMin: number;
  readonly costMax: number;
}

export function scoreRegion(input: ScoreInput): Scored {
  const { topology, region, location, measuredRttMs } = input;
  const km = location === undefined ? undefined : greatCircleKm(location, region.location);
  const proximity = km === undefined ? NEUTRAL_PART : clamp01(1 - km / HALF_CIRCUMFERENCE_KM);
  // A measurement beats the estimate: it sees routing detours and congestion distance cannot.
  const rttMs = measuredRttMs ?? (km === undefined ? undefined : estimateRttMs(topology, km));
  const rtt: RttKind = measuredRttMs !== undefined ? 'measured' : km !== undefined ? 'estimated' : 'unknown';
  const parts: ScoreParts = {
    proximity,
    health: headroom(region, input.state),
    latency: rttMs === undefined ? NEUTRAL_PART : latencyPart(rttMs),
    cost: costPart(region.cost, input.costMin, input.costMax),
  };
  const w = topology.routing.weights;
  const score = w.proximity * parts.proximity + w.health * parts.health + w.latency * parts.latency + w.cost * parts.cost;
  return {
    score,
    parts,
    ...(km === undefined ? {} : { distanceKm: km }),
    ...(rttMs === undefined ? {} : { rttMs }),
    rtt,
  };
}

/** Higher score first; equal scores by region name, so the order never depends on input order. */
export function byScore(a: { region: string; score?: number }, b: { region: string; score?: number }): number {
  const sa = a.score ?? -Infinity;
  const sb = b.score ?? -Infinity;
  if (sa !== sb) return sb - sa;
  return a.region < b.region ? -1 : a.region > b.region ? 1 : 0;
}
