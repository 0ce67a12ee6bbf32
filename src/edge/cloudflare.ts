/**
 * `meridian export cloudflare-lb`: the topology as a Cloudflare Load Balancing configuration — a
 * monitor on `/ready`, one pool per region (with its coordinates), and a load balancer with the
 * steering policy, country pools, default and fallback pools and cookie affinity. For teams that
 * put Cloudflare in front of the regions instead of (or before) the Meridian edge.
 *
 * Cloudflare objects refer to each other by id, which exist only once created; the export uses
 * names (`"monitor": "meridian-ready"`, pool names in `default_pools`…) to be replaced by the ids
 * the API returns (or by Terraform references). Field meanings: docs/edge.md "Cloudflare export".
 */
import { expandCountries } from '../topology/mod.js';
import type { Topology } from '../topology/mod.js';
import { DEFAULT_PROBE } from './health/types.js';
import type { ProbeConfig } from './health/types.js';
import { fallbackChain, poolFor, residencyFor } from './policy/mod.js';

export interface CloudflareExportOptions {
  /** The load balancer's DNS name. */
  readonly hostname?: string;
  /** Origin address per region (host name or IP); default `<region>.origin.example.com`. */
  readonly origins?: Readonly<Record<string, string>>;
  readonly probe?: Partial<ProbeConfig>;
  /** Cookie affinity lifetime, seconds (Cloudflare accepts 1800–604800). */
  readonly affinityTtlS?: number;
}

export type SteeringPolicy = 'off' | 'geo' | 'proximity' | 'dynamic_latency' | 'least_outstanding_requests';

export const MONITOR_REF = 'meridian-ready';
/** Cloudflare's shortest monitor interval (Enterprise); Pro plans need 60. */
export const CF_MIN_INTERVAL_S = 10;

/**
 * The global steering policy. Country pools are hard constraints for us (they carry residency),
 * and Cloudflare honours `country_pools` only under `geo`, so any country rule means `geo`.
 * Otherwise the heaviest routing weight picks the policy that optimises the same thing:
 * proximity → `proximity` (pool coordinates), latency → `dynamic_latency` (monitor RTTs),
 * health → `least_outstanding_requests` (load), cost → `off` (failover in cost order).
 * Ties go in that order.
 */
export function steeringPolicy(topology: Topology): SteeringPolicy {
  if (topology.routing.countries.length > 0) return 'geo';
  const w = topology.routing.weights;
  const ranked: [SteeringPolicy, number][] = [
    ['proximity', w.proximity],
    ['dynamic_latency', w.latency],
    ['least_outstanding_requests', w.health],
    ['off', w.cost],
  ];
  return ranked.reduce((best, x) => (x[1] > best[1] ? x : best))[0];
}

/**
 * Failover order for clients of `country` (undefined: no country rule): pool members, then their
 * fallback chains, then (for the default pool only) every other region, as decide() widens —
 * minus regions a strict residency rule forbids, with non-strict preferences first.
 */
export function failoverOrder(topology: Topology, country: string | undefined): string[] {
  const pool = poolFor(topology, country);
  const order = new Set(pool.regions);
  for (const m of pool.regions) for (const f of fallbackChain(topology, m)) order.add(f);
  if (country === undefined) for (const r of topology.regions) order.add(r.name);
  const { strict, preferred } = residencyFor(topology, country);
  const jurisdiction = new Map(topology.regions.map((r) => [r.name, r.jurisdiction]));
  const allowed = [...order].filter((r) => strict.every((rule) => rule.jurisdictions.includes(jurisdiction.get(r) ?? '')));
  const prefers = (r: string): boolean => preferred.every((rule) => rule.jurisdictions.includes(jurisdiction.get(r) ?? ''));
  return [...allowed.filter(prefers), ...allowed.filter((r) => !prefers(r))];
}

export function cloudflareLb(topology: Topology, options: CloudflareExportOptions = {}) {
  const probe = { ...DEFAULT_PROBE, ...options.probe };
  const interval = Math.max(CF_MIN_INTERVAL_S, Math.ceil(probe.intervalMs / 1000));
  const policy = steeringPolicy(topology);
  const notes: string[] = [
    'Replace monitor and pool names with the ids Cloudflare returns (or Terraform references) before applying.',
    `The Meridian edge probes every ${probe.intervalMs} ms; Cloudflare's shortest interval is ${CF_MIN_INTERVAL_S} s, so failover here takes about ${interval * probe.downAfter} s instead of under 2 s.`,
  ];

  const monitor = {
    name: MONITOR_REF,
    description: 'Meridian region readiness (GET /ready)',
    type: 'http',
    method: 'GET',
    path: probe.path,
    expected_codes: probe.expectedCodes.join(','),
    interval,
    timeout: Math.min(interval - 1, Math.max(1, Math.ceil(probe.timeoutMs / 1000))),
    retries: probe.retries,
    consecutive_down: probe.downAfter,
    consecutive_up: probe.upAfter,
    follow_redirects: false,
    allow_insecure: false,
  };

  const pools = topology.regions.map((r) => {
    const address = options.origins?.[r.name] ?? `${r.name}.origin.example.com`;
    return {
      name: r.name,
      description: `Meridian region ${r.name}${r.location.city === undefined ? '' : ` (${r.location.city})`}, jurisdiction ${r.jurisdiction}`,
      enabled: true,
      minimum_origins: 1,
      latitude: r.location.lat,
      longitude: r.location.lon,
      monitor: MONITOR_REF,
      origins: [{ name: r.name, address, enabled: true, weight: 1 }],
    };
  });
  if (options.origins === undefined) notes.push('Origin addresses are placeholders (<region>.origin.example.com): pass --region name=url to set them.');

  // Every country a rule names, and every country a strict residency rule protects (so such a
  // client never falls to default_pools, which may hold regions of another jurisdiction).
  const countries = new Set([...topology.routing.countries.flatMap((c) => expandCountries(c.countries)), ...topology.residency.filter((r) => r.strict).flatMap((r) => expandCountries(r.countries))]);
  const country_pools: Record<string, string[]> = {};
  for (const c of [...countries].sort()) {
    const order = failoverOrder(topology, c);
    if (order.length > 0) country_pools[c] = order;
  }
  const default_pools = failoverOrder(topology, undefined);
  if (policy === 'off') {
    const cost = new Map(topology.regions.map((r) => [r.name, r.cost]));
    default_pools.sort((a, b) => (cost.get(a) ?? 0) - (cost.get(b) ?? 0));
  }
  const fallback_pool = default_pools[0] ?? topology.regions[0]?.name ?? '';
  notes.push(`fallback_pool ${fallback_pool} receives traffic when every pool is unhealthy, whatever the client's country: unlike the Meridian edge, Cloudflare cannot refuse with 503 to keep strict residency.`);
  if (policy === 'geo') notes.push('steering_policy is geo because the topology has country pools; countries without one use default_pools in failover order, without the proximity and load scoring of the Meridian edge.');

  const ttl = Math.min(604_800, Math.max(1_800, options.affinityTtlS ?? 82_800));
  const load_balancer = {
    name: options.hostname ?? 'edge.example.com',
    description: `Meridian: ${topology.regions.length} regions`,
    enabled: true,
    proxied: true,
    steering_policy: policy,
    location_strategy: { prefer_ecs: 'always', mode: 'resolver_ip' },
    default_pools,
    fallback_pool,
    country_pools,
    session_affinity: 'cookie',
    session_affinity_ttl: ttl,
    session_affinity_attributes: { samesite: 'Lax', secure: 'Always', drain_duration: 0, zero_downtime_failover: 'sticky' },
    adaptive_routing: { failover_across_pools: true },
  };
  return { monitor, pools, load_balancer, notes };
}

export type CloudflareLbExport = ReturnType<typeof cloudflareLb>;
