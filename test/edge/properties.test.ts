// Property tests: thousands of random region states, clients and RTT reports over both example
// topologies (seeded, so a failure reproduces), checking the invariants steering must never break.
import { describe, it, expect } from 'vitest';
import { decide, fallbackChain, poolFor, rttFromMap } from '../../src/edge/policy/mod.js';
import type { Decision, RegionState, SteeringClient } from '../../src/edge/policy/mod.js';
import { expandCountries } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { five, mulberry32, pickOne, three } from './fixtures.js';
import type { Rng } from './fixtures.js';

const EU = expandCountries(['EU']);
const COUNTRIES = [...EU.slice(0, 6), 'GB', 'US', 'CA', 'MX', 'SG', 'TH', 'JP', 'KR', 'BR', 'ZA', 'AU', 'IN'];
const RUNS = 1500;

function randomState(rng: Rng, t: Topology, region: string): RegionState | undefined {
  const r = t.regions.find((x) => x.name === region);
  if (!r || rng() < 0.05) return undefined; // no report yet
  const load = (cap: number): number => (rng() < 0.2 ? cap + Math.floor(rng() * 10) : Math.floor(rng() * cap));
  return { healthy: rng() > 0.3, connections: load(r.capacity.connections), rps: load(r.capacity.rps) };
}

function randomCase(rng: Rng, t: Topology): { states: Map<string, RegionState>; client: SteeringClient; rtt: Map<string, number> } {
  const states = new Map<string, RegionState>();
  for (const r of t.regions) {
    const s = randomState(rng, t, r.name);
    if (s) states.set(r.name, s);
  }
  const client: SteeringClient = {
    ...(rng() < 0.85 ? { country: pickOne(rng, COUNTRIES) } : {}),
    ...(rng() < 0.7 ? { lat: rng() * 180 - 90, lon: rng() * 360 - 180 } : {}),
  };
  const rtt = new Map<string, number>();
  if (rng() < 0.3) for (const r of t.regions) if (rng() < 0.5) rtt.set(r.name, Math.floor(rng() * 600));
  return { states, client, rtt };
}

function eligible(t: Topology, states: Map<string, RegionState>, name: string, country: string | undefined): boolean {
  const r = t.regions.find((x) => x.name === name);
  const s = states.get(name);
  if (!r || !s || !s.healthy || s.connections >= r.capacity.connections || s.rps >= r.capacity.rps) return false;
  // Written out independently of the policy: every strict rule naming the country binds.
  return t.residency.every((rule) => !rule.strict || country === undefined || !expandCountries(rule.countries).includes(country) || rule.jurisdictions.includes(r.jurisdiction));
}

describe.each([
  ['three-region default', three, 1],
  ['five-region example', five, 2],
] as const)('edge steering - properties over the %s', (_label, t, seed) => {
  const rng = mulberry32(seed * 7919);
  const cases = Array.from({ length: RUNS }, () => randomCase(rng, t));
  const run = (c: (typeof cases)[number]): Decision => decide(t, c.states, c.client, { measuredRttMs: rttFromMap(c.rtt) });

  it('never chooses an unhealthy, unknown or full region', () => {
    for (const c of cases) {
      const d = run(c);
      if (d.region === null) continue;
      const s = c.states.get(d.region);
      const r = t.regions.find((x) => x.name === d.region);
      expect(s?.healthy).toBe(true);
      expect(s!.connections).toBeLessThan(r!.capacity.connections);
      expect(s!.rps).toBeLessThan(r!.capacity.rps);
    }
  });

  it('never violates strict residency, and refuses only when nothing eligible exists', () => {
    for (const c of cases) {
      const d = run(c);
      const any = t.regions.some((r) => eligible(t, c.states, r.name, c.client.country));
      expect(d.region !== null).toBe(any);
      expect(d.status).toBe(any ? 200 : 503);
      if (d.region !== null) expect(eligible(t, c.states, d.region, c.client.country)).toBe(true);
    }
  });

  it('keeps clients in their pool while a pool member can serve them', () => {
    for (const c of cases) {
      const d = run(c);
      const pool = poolFor(t, c.client.country).regions;
      const poolCanServe = pool.some((n) => eligible(t, c.states, n, c.client.country));
      if (poolCanServe && !d.notes.some((n) => n.startsWith('residency-'))) expect(pool).toContain(d.region);
    }
  });

  it('overflow and fallback pick the first eligible region of the named chain', () => {
    for (const c of cases) {
      const d = run(c);
      const via = d.notes.find((n) => n.startsWith('fallback-of:'))?.slice('fallback-of:'.length);
      if (via === undefined || d.notes.some((n) => n.startsWith('residency-preferred'))) continue;
      const first = fallbackChain(t, via).find((n) => eligible(t, c.states, n, c.client.country));
      expect(d.region).toBe(first);
    }
  });

  it('gives every candidate a reason or a score no better than the winner, and parts in [0, 1]', () => {
    const bad: unknown[] = [];
    cases.forEach((c, i) => {
      const d = run(c);
      const win = d.candidates.find((x) => x.region === d.region);
      if (d.candidates.length !== t.regions.length) bad.push({ i, candidates: d.candidates.length });
      for (const x of d.candidates) {
        if (x !== win && x.excluded === undefined && (x.score ?? -1) > (win?.score ?? -1)) bad.push({ i, unexplained: x.region });
        if (d.region === null && !x.excluded) bad.push({ i, refusedWithout: x.region });
        if (Object.values(x.parts ?? {}).some((p) => !(p >= 0 && p <= 1))) bad.push({ i, parts: x.parts });
      }
      if (c.client.lat === undefined && !d.notes.includes('no-client-location')) bad.push({ i, notes: d.notes });
    });
    expect(bad).toEqual([]);
  });

  it('honours a non-strict rule whenever a region it prefers can serve', () => {
    const bad: unknown[] = [];
    cases.forEach((c, i) => {
      const rules = t.residency.filter((r) => !r.strict && c.client.country !== undefined && expandCountries(r.countries).includes(c.client.country));
      if (rules.length === 0) return;
      const ok = (name: string): boolean => rules.every((r) => r.jurisdictions.includes(t.regions.find((x) => x.name === name)!.jurisdiction));
      const d = run(c);
      const preferredCanServe = t.regions.some((r) => ok(r.name) && eligible(t, c.states, r.name, c.client.country));
      if (preferredCanServe && (d.region === null || !ok(d.region))) bad.push({ i, region: d.region });
    });
    expect(bad).toEqual([]);
  });

  it('exercises every outcome (the random cases are not vacuous)', () => {
    const reasons = new Set(cases.map((c) => run(c).reason));
    const expected = ['best-score', 'overflow', 'fallback', 'outside-pool', 'residency-no-region', 'no-healthy-region'];
    for (const r of expected) expect(reasons).toContain(r);
  });

  it('is deterministic: the same inputs, in any order, give the same decision', () => {
    for (const c of cases.slice(0, 300)) {
      const again = decide(t, new Map([...c.states].reverse()), { ...c.client }, { measuredRttMs: rttFromMap(new Map([...c.rtt].reverse())) });
      expect(again).toEqual(run(c));
      expect(JSON.stringify(again)).toBe(JSON.stringify(run(c)));
    }
  });
});
