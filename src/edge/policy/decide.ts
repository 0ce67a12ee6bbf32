/**
 * `decide`: which region serves a new client, and why. Hard constraints first — strict residency,
 * state (health, capacity caps), the client's country pool — then the weighted score among what
 * is left. Pure and deterministic: same topology, states and client give the same decision (no
 * clock, no randomness; ties by region name), so the edge can explain any answer after the fact.
 *
 * Where the pool cannot serve, the search widens in three steps, never past strict residency:
 *   1. the best-scoring eligible pool member ('best-score', or 'overflow' when a member that is
 *      better load aside was at its cap) — a country pool is the operator's list of regions
 *      meant for those clients, so its members come before any fallback chain;
 *   2. the fallback chains of the pool members, best-scoring member first, each chain in the
 *      order written and transitively ('overflow' if that member was full, else 'fallback');
 *   3. the best-scoring eligible region anywhere residency allows ('outside-pool').
 * Non-strict residency rules restrict all three steps first and are relaxed only when that finds
 * nothing.
 */
import type { Region, Topology } from '../../topology/mod.js';
import { checkState, fallbackChain, poolFor, residencyFor, ruleBroken, stateExclusion, stateOf } from './constraints.js';
import { byScore, scoreRegion } from './score.js';
import type { Scored } from './score.js';
import type { Candidate, DecideOptions, Decision, DecisionReason, RegionStates, SteeringClient } from './types.js';
import { normalizeClient } from './validate.js';

interface Row {
  readonly region: Region;
  readonly scored: Scored | undefined;
  /** A strict residency rule the region breaks (`residency:<rule>`). */
  readonly residency: string | undefined;
  /** What its state rules out (`no-state`, `unhealthy`, `over-capacity:*`). */
  readonly state: string | undefined;
  /** Either of the two: rules the region out whatever else happens. */
  readonly hard: string | undefined;
  /** A non-strict residency rule the region breaks. */
  readonly soft: string | undefined;
}

interface Pick {
  readonly region: string;
  readonly reason: DecisionReason;
  /** Steps 1–2 only consider the pool (and its chains): other eligible regions were out of scope. */
  readonly poolOnly: boolean;
  readonly via?: string;
}

const isFull = (row: Row | undefined): boolean => row?.hard?.startsWith('over-capacity') === true;

function measured(options: DecideOptions, region: string): number | undefined {
  const ms = options.measuredRttMs?.(region);
  // Not ours to reject here (parseRttReport does that for client input): a bad value is no measurement.
  return ms !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function pick(topology: Topology, rows: ReadonlyMap<string, Row>, pool: readonly string[], honourSoft: boolean): Pick | undefined {
  const eligible = (row: Row | undefined): row is Row => row !== undefined && row.hard === undefined && (!honourSoft || row.soft === undefined);
  const ranked = (names: readonly string[]): Row[] =>
    names.flatMap((n) => rows.get(n) ?? []).sort((a, b) => byScore({ region: a.region.name, score: a.scored?.score }, { region: b.region.name, score: b.scored?.score }));

  const members = ranked(pool);
  const live = members.filter(eligible);
  const best = live[0];
  if (best !== undefined) {
    // 'overflow' when a member the client would rather have had, load aside (closer, faster or
    // cheaper), is at its cap: the full region's zero headroom alone would hide that.
    const w = topology.routing.weights;
    const unloaded = (r: Row): number => (r.scored === undefined ? -Infinity : r.scored.score - w.health * r.scored.parts.health);
    const betterFull = members.some((r) => isFull(r) && (!honourSoft || r.soft === undefined) && unloaded(r) > unloaded(best));
    return { region: best.region.name, reason: betterFull ? 'overflow' : 'best-score', poolOnly: true };
  }
  for (const owner of members) {
    for (const name of fallbackChain(topology, owner.region.name)) {
      if (eligible(rows.get(name))) return { region: name, reason: isFull(owner) ? 'overflow' : 'fallback', poolOnly: true, via: owner.region.name };
    }
  }
  const anywhere = ranked([...rows.keys()]).find(eligible);
  return anywhere === undefined ? undefined : { region: anywhere.region.name, reason: 'outside-pool', poolOnly: false };
}

function refusal(rows: readonly Row[]): DecisionReason {
  // Residency is the cause only when a region it rules out could otherwise have served.
  if (rows.some((r) => r.residency !== undefined && r.state === undefined)) return 'residency-no-region';
  return rows.some((r) => isFull(r)) ? 'no-capacity' : 'no-healthy-region';
}

export function decide(topology: Topology, states: RegionStates, client: SteeringClient, options: DecideOptions = {}): Decision {
  const c = normalizeClient(client);
  const residency = residencyFor(topology, c.country);
  const pool = poolFor(topology, c.country);
  const costs = topology.regions.map((r) => r.cost);
  const costMin = Math.min(...costs);
  const costMax = Math.max(...costs);

  const rows = new Map<string, Row>();
  let anyMeasured = false;
  for (const region of topology.regions) {
    const state = stateOf(states, region.name);
    if (state !== undefined) checkState(region.name, state);
    const rtt = measured(options, region.name);
    anyMeasured ||= rtt !== undefined;
    const scored = state === undefined ? undefined : scoreRegion({ topology, region, state, location: c.location, measuredRttMs: rtt, costMin, costMax });
    const strict = ruleBroken(region, residency.strict, 'residency');
    const stateIssue = stateExclusion(region, state);
    rows.set(region.name, { region, scored, residency: strict, state: stateIssue, hard: strict ?? stateIssue, soft: ruleBroken(region, residency.preferred, 'residency-preference') });
  }

  const notes: string[] = [pool.note, ...residency.strict.map((r) => `residency:${r.name}`)];
  if (c.location === undefined) notes.push('no-client-location');
  if (anyMeasured) notes.push('rtt-measured');

  const soft = residency.preferred.length > 0;
  let chosen = pick(topology, rows, pool.regions, soft);
  const honouredSoft = soft && chosen !== undefined;
  if (honouredSoft) notes.push(...residency.preferred.map((r) => `residency-preferred:${r.name}`));
  else if (soft) {
    chosen = pick(topology, rows, pool.regions, false);
    if (chosen !== undefined) notes.push(...residency.preferred.map((r) => `residency-relaxed:${r.name}`));
  }
  if (chosen?.via !== undefined) notes.push(`fallback-of:${chosen.via}`);
  const inPool = new Set(pool.regions);

  const candidates: Candidate[] = [...rows.values()].map((row) => {
    const name = row.region.name;
    const excluded =
      name === chosen?.region
        ? undefined
        : (row.hard ?? (honouredSoft ? row.soft : undefined) ?? (chosen?.poolOnly === true && !inPool.has(name) ? 'outside-pool' : undefined));
    const s = row.scored;
    return {
      region: name,
      ...(s === undefined ? {} : { score: s.score, parts: s.parts, ...(s.distanceKm === undefined ? {} : { distanceKm: s.distanceKm }), ...(s.rttMs === undefined ? {} : { rttMs: s.rttMs }), rtt: s.rtt }),
      ...(excluded === undefined ? {} : { excluded }),
    };
  });
  candidates.sort(byScore);

  if (chosen === undefined) {
    return { region: null, status: 503, reason: refusal([...rows.values()]), notes, candidates };
  }
  return { region: chosen.region, status: 200, reason: chosen.reason, notes, candidates };
}
