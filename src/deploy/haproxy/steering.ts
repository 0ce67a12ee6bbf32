/**
 * The edge's steering reduced to what haproxy can evaluate per request without Node in the data
 * path: for each client country, an ordered candidate list of regions (a "pool" here), tried in
 * order, skipping regions that are down (health check on /ready) or full (`maxconn` reached).
 *
 * A candidate list follows `decide()`'s widening (docs/edge.md): the country pool's members in
 * the order written, then their fallback chains, then every other region strict residency allows
 * ('outside-pool'); regions a strict rule forbids never appear, regions a non-strict rule prefers
 * come first (src/edge/cloudflare.ts `failoverOrder`, shared with the Cloudflare export). What
 * haproxy cannot do: score pool members (proximity, measured latency, cost, headroom blend) —
 * the first live member in the order written wins — and cap requests per second.
 */
import { failoverOrder } from '../../edge/cloudflare.js';
import { residencyFor } from '../../edge/policy/mod.js';
import { COUNTRY_GROUPS, expandCountries } from '../../topology/mod.js';
import type { Topology } from '../../topology/mod.js';

export interface SteeringPools {
  /** Country (or group such as EU) → pool id, for the countries a rule names. */
  readonly countries: ReadonlyMap<string, string>;
  /** Pool for every other country and for clients without one. */
  readonly defaultPool: string;
  /** Pool id → regions in the order to try them. */
  readonly pools: ReadonlyMap<string, readonly string[]>;
}

/** `pool:eu-west:us-east`: readable, and a valid haproxy ACL name and map value. */
export function poolId(regions: readonly string[]): string {
  return regions.length === 0 ? 'pool:none' : `pool:${regions.join(':')}`;
}

/** The regions a client of `country` may be sent to, in order (empty: refuse with 503). */
export function candidates(topology: Topology, country: string | undefined): string[] {
  const first = failoverOrder(topology, country);
  const { strict } = residencyFor(topology, country);
  const jurisdiction = new Map(topology.regions.map((r) => [r.name, r.jurisdiction]));
  const rest = topology.regions
    .map((r) => r.name)
    .filter((r) => !first.includes(r) && strict.every((rule) => rule.jurisdictions.includes(jurisdiction.get(r) ?? '')));
  return [...first, ...rest];
}

export function steeringPools(topology: Topology): SteeringPools {
  const named = new Set<string>();
  for (const rule of topology.routing.countries) for (const c of [...rule.countries, ...expandCountries(rule.countries)]) named.add(c);
  for (const rule of topology.residency) for (const c of [...rule.countries, ...expandCountries(rule.countries)]) named.add(c);
  // A GeoIP source may report a group itself (EU for Europe-wide blocks): map it as decide() does.
  for (const g of Object.keys(COUNTRY_GROUPS)) named.add(g);
  const pools = new Map<string, string[]>();
  const countries = new Map<string, string>();
  const defaultRegions = candidates(topology, undefined);
  const defaultPool = poolId(defaultRegions);
  pools.set(defaultPool, defaultRegions);
  for (const c of [...named].sort()) {
    const list = candidates(topology, c);
    const id = poolId(list);
    pools.set(id, list);
    if (id !== defaultPool) countries.set(c, id);
  }
  return { countries, defaultPool, pools };
}
