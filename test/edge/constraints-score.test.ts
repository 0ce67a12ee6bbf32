// The pieces decide() is made of, each checked on its own: residency and pool matching, fallback
// chains, state exclusions, and every score part.
import { describe, it, expect } from 'vitest';
import {
  countryMatches, costPart, decide, estimateRttMs, fallbackChain, headroom, HALF_CIRCUMFERENCE_KM, latencyPart, NEUTRAL_PART, poolFor, residencyFor,
  RTT_BASE_MS, scoreRegion, stateExclusion,
} from '../../src/edge/policy/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import { at, down, five, idle, states, three } from './fixtures.js';

const region = (name: string) => {
  const r = three.regions.find((x) => x.name === name);
  if (!r) throw new Error(name);
  return r;
};

describe('edge steering - constraints', () => {
  it.each([
    [['EU'], 'DE', true],
    [['EU'], 'GB', false],
    [['GB', 'EU'], 'GB', true],
    [['US'], undefined, false],
    // A client located only as "EU" still falls under a rule naming any EU member.
    [['DE'], 'EU', true],
    [['US', 'CA'], 'EU', false],
  ] as const)('rule countries %j match client %j: %j', (rule, country, expected) => {
    expect(countryMatches(rule, country)).toBe(expected);
  });

  it.each([
    [five, 'US', ['us-east', 'us-west'], 'pool:countries[0]'],
    [five, 'FR', ['eu-west'], 'pool:countries[1]'],
    [five, 'KR', ['ap-northeast'], 'pool:countries[3]'],
    [five, 'BR', ['us-east'], 'pool:default'],
    [five, undefined, ['us-east'], 'pool:default'],
    [three, 'BR', ['us-east', 'eu-west', 'ap-southeast'], 'pool:all-regions'],
  ] as const)('pool for %#: %j → %j', (t, country, regions, note) => {
    expect(poolFor(t, country)).toEqual({ regions, note });
  });

  it('binds strict and non-strict residency rules separately', () => {
    expect(residencyFor(five, 'DE')).toMatchObject({ strict: [{ name: 'gdpr' }], preferred: [] });
    expect(residencyFor(five, 'SG')).toMatchObject({ strict: [], preferred: [{ name: 'pdpa' }] });
    expect(residencyFor(five, undefined)).toEqual({ strict: [], preferred: [] });
  });

  it('walks fallback chains breadth-first, once per region, through cycles', () => {
    const t = parseTopology(`regions:
  - { name: a, location: { lat: 0, lon: 0 }, jurisdiction: US, fallback: [b, c] }
  - { name: b, location: { lat: 0, lon: 0 }, jurisdiction: US, fallback: [d, a] }
  - { name: c, location: { lat: 0, lon: 0 }, jurisdiction: US, fallback: [e] }
  - { name: d, location: { lat: 0, lon: 0 }, jurisdiction: US, fallback: [a] }
  - { name: e, location: { lat: 0, lon: 0 }, jurisdiction: US }
`);
    expect(fallbackChain(t, 'a')).toEqual(['b', 'c', 'd', 'e']);
    expect(fallbackChain(t, 'd')).toEqual(['a', 'b', 'c', 'e']);
    expect(fallbackChain(t, 'e')).toEqual([]);
    expect(fallbackChain(three, 'ap-southeast')).toEqual(['eu-west', 'us-east']);
  });

  it.each([
    [undefined, 'no-state'],
    [down, 'unhealthy'],
    [{ healthy: true, connections: 10_000, rps: 0 }, 'over-capacity:connections'],
    [{ healthy: true, connections: 9_999, rps: 5_000 }, 'over-capacity:rps'],
    [{ healthy: true, connections: 9_999, rps: 4_999 }, undefined],
  ] as const)('eu-west in state %j is excluded as %j', (state, reason) => {
    expect(stateExclusion(region('eu-west'), state)).toBe(reason);
  });
});

describe('edge steering - score parts', () => {
  it('proximity is 1 at the region and 0 at its antipode', () => {
    const base = { topology: three, region: region('eu-west'), state: idle, measuredRttMs: undefined, costMin: 1, costMax: 1.3 };
    expect(scoreRegion({ ...base, location: { lat: 53.35, lon: -6.26 } }).parts.proximity).toBe(1);
    expect(scoreRegion({ ...base, location: { lat: -53.35, lon: 173.74 } }).parts.proximity).toBeCloseTo(0, 6);
    expect(HALF_CIRCUMFERENCE_KM).toBeCloseTo(20015.1, 0);
  });

  it.each([
    [{ healthy: true, connections: 0, rps: 0 }, 1],
    [{ healthy: true, connections: 5_000, rps: 1_000 }, 0.5],
    [{ healthy: true, connections: 1_000, rps: 4_000 }, 0.2],
    [{ healthy: true, connections: 20_000, rps: 0 }, 0],
    [{ healthy: false, connections: 0, rps: 0 }, 0],
  ])('headroom of eu-west in %j is %d (the tighter cap wins)', (state, expected) => {
    expect(headroom(region('eu-west'), state)).toBeCloseTo(expected, 10);
  });

  it.each([
    [0, 1],
    [250, 0.5],
    [500, 0],
    [2_000, 0],
  ])('an RTT of %d ms is a latency part of %d', (rtt, part) => expect(latencyPart(rtt)).toBe(part));

  it('estimates RTT from distance: there and back at wan.msPer100Km plus a base', () => {
    expect(estimateRttMs(three, 0)).toBe(RTT_BASE_MS);
    expect(estimateRttMs(three, 1_000)).toBe(RTT_BASE_MS + 20);
  });

  it.each([
    [1.0, 1],
    [1.1, 1 - 0.1 / 1.3],
    [1.3, 1 - 0.3 / 1.3],
  ])('cost %d among 1.0–1.3 is a cost part of %d (cheapest 1)', (cost, part) => {
    expect(costPart(cost, 1, 1.3)).toBeCloseTo(part, 12);
  });

  it('free regions do not divide by zero', () => expect(costPart(0, 0, 0)).toBe(1));

  it('a measured RTT replaces the distance estimate, and is labelled so', () => {
    const base = { topology: three, region: region('us-east'), state: idle, location: at.berlin, costMin: 1, costMax: 1.3 };
    const estimated = scoreRegion({ ...base, measuredRttMs: undefined });
    const measured = scoreRegion({ ...base, measuredRttMs: 25 });
    expect(estimated.rtt).toBe('estimated');
    expect(estimated.rttMs).toBeGreaterThan(130);
    expect(measured).toMatchObject({ rtt: 'measured', rttMs: 25, parts: { latency: 0.95, proximity: estimated.parts.proximity } });
  });

  it('without a client location proximity and latency are neutral for every region, and the decision says so', () => {
    const d = decide(three, states(three), { country: 'BR' });
    expect(d.notes).toContain('no-client-location');
    for (const c of d.candidates) expect(c.parts).toMatchObject({ proximity: NEUTRAL_PART, latency: NEUTRAL_PART });
    // A measurement still counts without a location.
    const m = decide(three, states(three), { country: 'BR' }, { measuredRttMs: (r) => (r === 'ap-southeast' ? 5 : undefined) });
    expect(m.candidates.find((c) => c.region === 'ap-southeast')).toMatchObject({ rtt: 'measured', parts: { latency: 0.99 } });
  });

  it('score is the weighted sum of the parts with the topology weights', () => {
    const t = { ...three, routing: { ...three.routing, weights: { proximity: 0, health: 0, latency: 0, cost: 1 } } };
    const d = decide(t, states(t), { country: 'BR', ...at.saoPaulo });
    // Only cost counts: the cheapest region wins wherever the client is.
    expect(d.region).toBe('us-east');
    for (const c of d.candidates) expect(c.score).toBe(c.parts?.cost);
  });

  it('ties are broken by region name, whatever the topology order', () => {
    const t = parseTopology(`regions:
  - { name: zeta, location: { lat: 0, lon: 10 }, jurisdiction: US }
  - { name: alpha, location: { lat: 0, lon: -10 }, jurisdiction: US }
`);
    const d = decide(t, { zeta: idle, alpha: idle }, { lat: 0, lon: 0 });
    expect(d.candidates[0]?.score).toBe(d.candidates[1]?.score);
    expect(d.region).toBe('alpha');
    expect(d.candidates.map((c) => c.region)).toEqual(['alpha', 'zeta']);
  });
});
