// Table-driven steering decisions over the two example topologies: each row is one situation an
// operator would reason about, with the region, reason and notes the edge must answer.
import { describe, it, expect } from 'vitest';
import { decide, rttFromMap } from '../../src/edge/policy/mod.js';
import type { Decision, RegionState, SteeringClient } from '../../src/edge/policy/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import { at, down, five, full, states, three } from './fixtures.js';

interface Row {
  name: string;
  topology: Topology;
  overrides?: Record<string, RegionState>;
  client: SteeringClient;
  rtt?: Record<string, number>;
  region: string | null;
  reason: Decision['reason'];
  notes?: string[];
}

const rows: Row[] = [
  { name: 'a US client goes to us-east', topology: three, client: { country: 'US' }, region: 'us-east', reason: 'best-score', notes: ['pool:countries[0]', 'no-client-location'] },
  { name: 'a German client goes to eu-west under GDPR', topology: three, client: { country: 'de', ...at.berlin }, region: 'eu-west', reason: 'best-score', notes: ['pool:countries[1]', 'residency:gdpr'] },
  { name: 'an EU client with every EU region down is refused, never sent abroad', topology: three, overrides: { 'eu-west': down }, client: { country: 'FR' }, region: null, reason: 'residency-no-region' },
  { name: 'an EU client whose EU region is full is refused, not overflowed to us-east', topology: three, overrides: { 'eu-west': full(three, 'eu-west') }, client: { country: 'DE' }, region: null, reason: 'residency-no-region' },
  { name: 'a UK client (outside the EU group) overflows from a full eu-west along its chain', topology: three, overrides: { 'eu-west': full(three, 'eu-west') }, client: { country: 'GB', ...at.london }, region: 'us-east', reason: 'overflow', notes: ['pool:countries[1]', 'fallback-of:eu-west'] },
  { name: 'a client in Singapore by coordinates alone goes to ap-southeast', topology: three, client: at.singapore, region: 'ap-southeast', reason: 'best-score', notes: ['pool:all-regions'] },
  { name: 'a client in São Paulo by coordinates alone goes to the nearest region, us-east', topology: three, client: at.saoPaulo, region: 'us-east', reason: 'best-score' },
  { name: 'a Brazilian client overflows from a full us-east to its fallback eu-west', topology: three, overrides: { 'us-east': full(three, 'us-east') }, client: { country: 'BR', ...at.saoPaulo }, region: 'eu-west', reason: 'overflow' },
  { name: 'ap-southeast full: its chain is tried in order, eu-west first', topology: three, overrides: { 'ap-southeast': full(three, 'ap-southeast') }, client: { country: 'SG', ...at.singapore }, region: 'eu-west', reason: 'overflow', notes: ['pool:countries[2]', 'fallback-of:ap-southeast'] },
  { name: 'ap-southeast full and eu-west down: the chain goes on to us-east', topology: three, overrides: { 'ap-southeast': full(three, 'ap-southeast'), 'eu-west': down }, client: { country: 'SG' }, region: 'us-east', reason: 'overflow' },
  { name: 'ap-southeast down: the chain is a failover, not an overflow', topology: three, overrides: { 'ap-southeast': down }, client: { country: 'TH' }, region: 'eu-west', reason: 'fallback' },
  { name: 'every region down is a 503 no-healthy-region', topology: three, overrides: { 'us-east': down, 'eu-west': down, 'ap-southeast': down }, client: { country: 'US' }, region: null, reason: 'no-healthy-region' },
  { name: 'every region full is a 503 no-capacity', topology: three, overrides: { 'us-east': full(three, 'us-east'), 'eu-west': full(three, 'eu-west'), 'ap-southeast': full(three, 'ap-southeast') }, client: { country: 'US' }, region: null, reason: 'no-capacity' },
  { name: 'five regions: an Oregon client of the US pool goes to us-west', topology: five, client: { country: 'US', ...at.portland }, region: 'us-west', reason: 'best-score' },
  { name: 'five regions: an Ashburn client overflows to us-west when us-east is full', topology: five, overrides: { 'us-east': full(five, 'us-east') }, client: { country: 'US', ...at.ashburn }, region: 'us-west', reason: 'overflow' },
  { name: 'five regions: a Japanese client fails over to ap-southeast', topology: five, overrides: { 'ap-northeast': down }, client: { country: 'JP', ...at.tokyo }, region: 'ap-southeast', reason: 'fallback', notes: ['pool:countries[3]', 'fallback-of:ap-northeast'] },
  { name: 'five regions: PDPA prefers ap-southeast for a Singapore client', topology: five, client: { country: 'SG' }, region: 'ap-southeast', reason: 'best-score', notes: ['pool:countries[2]', 'no-client-location', 'residency-preferred:pdpa'] },
  { name: 'five regions: PDPA is relaxed (not strict) when ap-southeast is down', topology: five, overrides: { 'ap-southeast': down }, client: { country: 'SG', ...at.singapore }, region: 'ap-northeast', reason: 'fallback', notes: ['pool:countries[2]', 'residency-relaxed:pdpa', 'fallback-of:ap-southeast'] },
  { name: 'five regions: a client with no country uses the default pool', topology: five, client: at.singapore, region: 'us-east', reason: 'best-score', notes: ['pool:default'] },
  { name: 'five regions: the default pool down, its chain serves', topology: five, overrides: { 'us-east': down }, client: { country: 'BR' }, region: 'us-west', reason: 'fallback' },
  { name: 'five regions: pool and chain down, the best region anywhere serves', topology: five, overrides: { 'us-east': down, 'us-west': down }, client: { country: 'BR', ...at.saoPaulo }, region: 'eu-west', reason: 'outside-pool' },
  { name: 'a measured RTT outweighs distance (mid-Atlantic, us-east measured slow)', topology: three, client: at.midAtlantic, rtt: { 'us-east': 400, 'eu-west': 40 }, region: 'eu-west', reason: 'best-score', notes: ['pool:all-regions', 'rtt-measured'] },
  { name: 'a measured RTT outweighs distance (mid-Atlantic, eu-west measured slow)', topology: three, client: at.midAtlantic, rtt: { 'us-east': 40, 'eu-west': 400 }, region: 'us-east', reason: 'best-score' },
];

describe('edge steering - decide', () => {
  it.each(rows)('$name', (row) => {
    const options = row.rtt ? { measuredRttMs: rttFromMap(new Map(Object.entries(row.rtt))) } : {};
    const d = decide(row.topology, states(row.topology, row.overrides), row.client, options);
    expect({ region: d.region, reason: d.reason }).toEqual({ region: row.region, reason: row.reason });
    expect(d.status).toBe(row.region === null ? 503 : 200);
    if (row.notes) expect(d.notes).toEqual(row.notes);
    // Every region is listed once; every one that is not the winner and not merely out-scored says why.
    expect(d.candidates.map((c) => c.region).sort()).toEqual(row.topology.regions.map((r) => r.name).sort());
    const winner = d.candidates.find((c) => c.region === d.region);
    for (const c of d.candidates) {
      if (c === winner) expect(c.excluded).toBeUndefined();
      else if (c.excluded === undefined) expect(c.score ?? -1).toBeLessThanOrEqual(winner?.score ?? -1);
    }
    if (d.status === 503) for (const c of d.candidates) expect(c.excluded).toMatch(/\S/);
  });

  it('the mid-Atlantic point is close to equidistant, so the RTT rows test the measurement', () => {
    const d = decide(three, states(three), at.midAtlantic);
    const km = Object.fromEntries(d.candidates.map((c) => [c.region, c.distanceKm ?? NaN]));
    expect(Math.abs((km['us-east'] ?? 0) - (km['eu-west'] ?? 0))).toBeLessThan(400);
  });

  it('names the rule and the cause on each excluded candidate', () => {
    const d = decide(three, states(three, { 'eu-west': down }), { country: 'IE' });
    expect(Object.fromEntries(d.candidates.map((c) => [c.region, c.excluded]))).toEqual({
      'us-east': 'residency:gdpr',
      'eu-west': 'unhealthy',
      'ap-southeast': 'residency:gdpr',
    });
  });

  it('a region with no reported state is never chosen and is listed without a score', () => {
    const d = decide(three, { 'eu-west': { healthy: true, connections: 0, rps: 0 } }, { country: 'US' });
    expect(d.region).toBe('eu-west');
    expect(d.reason).toBe('fallback');
    const usEast = d.candidates.find((c) => c.region === 'us-east');
    expect(usEast).toEqual({ region: 'us-east', excluded: 'no-state' });
    expect(d.candidates.at(-1)?.score).toBeUndefined();
  });

  it('over the rps cap counts as full, naming which cap', () => {
    const d = decide(three, states(three, { 'us-east': { healthy: true, connections: 1, rps: 10_000 } }), { country: 'US' });
    expect(d.candidates.find((c) => c.region === 'us-east')?.excluded).toBe('over-capacity:rps');
    expect(d.reason).toBe('overflow');
  });

  it('outside-pool regions are marked while the pool could serve', () => {
    const d = decide(three, states(three), { country: 'US' });
    expect(d.candidates.filter((c) => c.excluded === 'outside-pool').map((c) => c.region).sort()).toEqual(['ap-southeast', 'eu-west']);
  });

  it('follows fallback chains transitively and survives cycles', () => {
    const t = parseTopology(`regions:
  - { name: a, location: { lat: 0, lon: 0 }, jurisdiction: US, fallback: [b] }
  - { name: b, location: { lat: 0, lon: 1 }, jurisdiction: US, fallback: [a, c] }
  - { name: c, location: { lat: 60, lon: 100 }, jurisdiction: US, fallback: [b] }
  - { name: d, location: { lat: 0, lon: 2 }, jurisdiction: US }
routing:
  countries: [{ countries: [US], regions: [a] }]
`);
    const fullA = { healthy: true, connections: 10_000, rps: 0 };
    const viaChain = decide(t, { a: fullA, b: down, c: { ...fullA, connections: 0 }, d: { ...fullA, connections: 0 } }, { country: 'US', lat: 0, lon: 0 });
    expect([viaChain.region, viaChain.reason]).toEqual(['c', 'overflow']);
    const noChain = decide(t, { a: fullA, b: down, c: down, d: { ...fullA, connections: 0 } }, { country: 'US', lat: 0, lon: 0 });
    expect([noChain.region, noChain.reason]).toEqual(['d', 'outside-pool']);
  });
});
