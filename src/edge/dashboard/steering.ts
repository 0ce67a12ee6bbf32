/**
 * The edge's steering decisions as the dashboard shows them: where a new client from each of a
 * fixed set of places would be sent right now, decided by the same policy with the same live
 * states the proxy and `GET /v1/route` use (health, load, country rules, residency), and the
 * decisions the edge really made in the last minute (its metrics). The places are asked through
 * `decide()` rather than `steer()`, so these what-ifs never count as decisions in the metrics. Counting decisions as they
 * are made would only show where today's clients happen to be (all of them on 127.0.0.1 in a
 * local run); asking for places around the world shows the policy itself, and how it moves when
 * a region goes down: nearby places fall over to their fallbacks, strict-residency places get no
 * region at all.
 *
 * The places are the topology's own regions (a client standing next to each) plus a dozen large
 * cities across the continents, each counted once: the "share" of a region is the share of these
 * places it would serve.
 */
import { decide } from '../policy/mod.js';
import type { SteeringClient } from '../policy/mod.js';
import type { EdgeContext } from '../server/context.js';
import { regionStates } from '../server/steer.js';

export interface Place {
  readonly name: string;
  /** ISO 3166-1 alpha-2, so country rules and residency apply; absent for a bare location. */
  readonly country?: string;
  readonly lat: number;
  readonly lon: number;
}

export const WORLD_PLACES: readonly Place[] = [
  { name: 'San Francisco', country: 'US', lat: 37.77, lon: -122.42 },
  { name: 'New York', country: 'US', lat: 40.71, lon: -74.01 },
  { name: 'Toronto', country: 'CA', lat: 43.65, lon: -79.38 },
  { name: 'Mexico City', country: 'MX', lat: 19.43, lon: -99.13 },
  { name: 'São Paulo', country: 'BR', lat: -23.55, lon: -46.63 },
  { name: 'London', country: 'GB', lat: 51.51, lon: -0.13 },
  { name: 'Frankfurt', country: 'DE', lat: 50.11, lon: 8.68 },
  { name: 'Paris', country: 'FR', lat: 48.86, lon: 2.35 },
  { name: 'Lagos', country: 'NG', lat: 6.52, lon: 3.38 },
  { name: 'Johannesburg', country: 'ZA', lat: -26.2, lon: 28.05 },
  { name: 'Dubai', country: 'AE', lat: 25.2, lon: 55.27 },
  { name: 'Mumbai', country: 'IN', lat: 19.08, lon: 72.88 },
  { name: 'Jakarta', country: 'ID', lat: -6.2, lon: 106.85 },
  { name: 'Tokyo', country: 'JP', lat: 35.68, lon: 139.69 },
  { name: 'Sydney', country: 'AU', lat: -33.87, lon: 151.21 },
];

export interface PlaceDecision {
  readonly place: string;
  readonly country: string | null;
  readonly lat: number;
  readonly lon: number;
  /** The region a new client from here goes to, or null (nothing may serve it: 503). */
  readonly region: string | null;
  readonly reason: string;
}

export interface SteeringView {
  readonly places: readonly PlaceDecision[];
  /** Share of the places each region serves (0..1); every region is listed. */
  readonly share: Readonly<Record<string, number>>;
  /** Share of the places no region may serve (strict residency with its regions down). */
  readonly unserved: number;
  /** Decisions the edge made in the last minute by chosen region ("none": 503), and by reason. */
  readonly decisions: Readonly<Record<string, number>>;
  readonly reasons: Readonly<Record<string, number>>;
}

/** The places: one next to each region of the topology (named after it), then the world cities. */
export function steeringPlaces(ctx: EdgeContext): Place[] {
  const own = ctx.topology.regions.map((r) => ({ name: r.location.city ?? r.name, lat: r.location.lat, lon: r.location.lon }));
  const near = (p: Place): boolean => own.some((o) => Math.abs(o.lat - p.lat) < 1 && Math.abs(o.lon - p.lon) < 1);
  return [...own, ...WORLD_PLACES.filter((p) => !near(p))];
}

export function steeringView(ctx: EdgeContext, places: readonly Place[]): SteeringView {
  const states = regionStates(ctx);
  const decisions = places.map((p): PlaceDecision => {
    const client: SteeringClient = { country: p.country, lat: p.lat, lon: p.lon };
    // steer() without affinity: the policy's choice, if that region has a URL.
    const d = decide(ctx.topology, states, client);
    const region = d.region !== null && ctx.urls.has(d.region) ? d.region : null;
    return { place: p.name, country: p.country ?? null, lat: p.lat, lon: p.lon, region, reason: d.reason };
  });
  const share: Record<string, number> = Object.fromEntries(ctx.topology.regions.map((r) => [r.name, 0]));
  let unserved = 0;
  for (const d of decisions) {
    if (d.region === null) unserved += 1 / decisions.length;
    else share[d.region] = (share[d.region] ?? 0) + 1 / decisions.length;
  }
  return { places: decisions, share, unserved, decisions: ctx.metrics.decisionsByRegion.counts(), reasons: ctx.metrics.decisionsByReason.counts() };
}
