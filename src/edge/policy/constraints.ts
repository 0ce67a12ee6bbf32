/**
 * The hard constraints of steering, each a small pure function over the topology: which residency
 * rules bind a client, which pool serves it, what a region's state rules out, and where a region's
 * fallback chain leads. `decide` combines them; keeping them apart makes each one table-testable.
 */
import { COUNTRY_GROUPS, expandCountries } from '../../topology/mod.js';
import type { Region, ResidencyRule, Topology } from '../../topology/mod.js';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { RegionState, RegionStates } from './types.js';

/**
 * Does a rule's country list (which may hold groups such as EU) cover the client's country? A
 * client reported as a group itself (some GeoIP data says `EU` for Europe-wide blocks) matches
 * any rule naming a member, so residency errs towards protecting the client.
 */
export function countryMatches(ruleCountries: readonly string[], country: string | undefined): boolean {
  if (country === undefined) return false;
  const covered = expandCountries(ruleCountries);
  if (covered.includes(country)) return true;
  const members = COUNTRY_GROUPS[country];
  return members !== undefined && members.some((m) => covered.includes(m));
}

export interface ResidencyBinding {
  /** Every strict rule must hold: a region must be of one of each rule's jurisdictions. */
  readonly strict: readonly ResidencyRule[];
  /** Non-strict rules: preferred while a region they allow is available, then relaxed. */
  readonly preferred: readonly ResidencyRule[];
}

/** The residency rules that bind a client of this country (none without a country). */
export function residencyFor(topology: Topology, country: string | undefined): ResidencyBinding {
  const rules = topology.residency.filter((r) => countryMatches(r.countries, country));
  return { strict: rules.filter((r) => r.strict), preferred: rules.filter((r) => !r.strict) };
}

/** The first rule a region's jurisdiction breaks, as `<prefix>:<rule>`, or undefined. */
export function ruleBroken(region: Region, rules: readonly ResidencyRule[], prefix: string): string | undefined {
  const broken = rules.find((r) => !r.jurisdictions.includes(region.jurisdiction));
  return broken === undefined ? undefined : `${prefix}:${broken.name}`;
}

export interface Pool {
  readonly regions: readonly string[];
  /** `pool:countries[i]`, `pool:default` or `pool:all-regions`. */
  readonly note: string;
}

/** The first country rule naming the client's country, else the default pool, else every region. */
export function poolFor(topology: Topology, country: string | undefined): Pool {
  const rules = topology.routing.countries;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (rule !== undefined && countryMatches(rule.countries, country)) return { regions: rule.regions, note: `pool:countries[${i}]` };
  }
  if (topology.routing.default.length > 0) return { regions: topology.routing.default, note: 'pool:default' };
  return { regions: topology.regions.map((r) => r.name), note: 'pool:all-regions' };
}

/**
 * A region's fallback chain, transitively and breadth-first: its own fallbacks in the order
 * written, then theirs. The operator's direct list is exhausted before going further afield.
 * Each region appears once and never the start, so cycles (a → b → a) end.
 */
export function fallbackChain(topology: Topology, start: string): string[] {
  const byName = new Map(topology.regions.map((r) => [r.name, r]));
  const seen = new Set([start]);
  const out: string[] = [];
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const name = queue[head];
    for (const next of (name === undefined ? undefined : byName.get(name))?.fallback ?? []) {
      if (seen.has(next)) continue;
      seen.add(next);
      out.push(next);
      queue.push(next);
    }
  }
  return out;
}

export function stateOf(states: RegionStates, region: string): RegionState | undefined {
  if (states instanceof Map) return (states as ReadonlyMap<string, RegionState>).get(region);
  const record = states as Readonly<Partial<Record<string, RegionState>>>;
  return Object.hasOwn(record, region) ? record[region] : undefined;
}

/** Monitors are ours, not the client's: bad numbers are a bug worth failing loudly on. */
export function checkState(region: string, state: RegionState): void {
  for (const key of ['connections', 'rps'] as const) {
    const v = state[key];
    if (!Number.isFinite(v) || v < 0) {
      throw new MeridianError(ErrorCode.InvalidArgument, `state of ${region}: ${key} must be a finite number ≥ 0`, { details: { region, [key]: v } });
    }
  }
}

/** What a region's reported state rules out: `no-state`, `unhealthy`, `over-capacity:*`. */
export function stateExclusion(region: Region, state: RegionState | undefined): string | undefined {
  if (state === undefined) return 'no-state';
  if (!state.healthy) return 'unhealthy';
  // At the cap counts as full: the cap is the most a region is meant to carry.
  if (state.connections >= region.capacity.connections) return 'over-capacity:connections';
  if (state.rps >= region.capacity.rps) return 'over-capacity:rps';
  return undefined;
}
