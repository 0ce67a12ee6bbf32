// The worked example of docs/edge.md ("Steering policy"), recomputed: if the policy changes,
// this fails until the document is updated with the new numbers.
import { describe, it, expect } from 'vitest';
import { decide } from '../../src/edge/policy/mod.js';
import type { Decision } from '../../src/edge/policy/mod.js';
import { three } from './fixtures.js';

const s = {
  'us-east': { healthy: true, connections: 4000, rps: 2000 },
  'eu-west': { healthy: true, connections: 6000, rps: 1500 },
  'ap-southeast': { healthy: true, connections: 100, rps: 50 },
};
const london = { lat: 51.51, lon: -0.13 };
const r4 = (x: number | undefined): number => Math.round((x ?? NaN) * 10_000) / 10_000;
const table = (d: Decision) =>
  d.candidates.map((c) => ({
    region: c.region,
    km: Math.round(c.distanceKm ?? NaN),
    rtt: Math.round((c.rttMs ?? NaN) * 10) / 10,
    parts: c.parts && { proximity: r4(c.parts.proximity), health: r4(c.parts.health), latency: r4(c.parts.latency), cost: r4(c.parts.cost) },
    score: r4(c.score),
    excluded: c.excluded,
  }));

describe('edge steering - the worked example in docs/edge.md', () => {
  it('a London client of country GB is served by eu-west with the documented scores', () => {
    const d = decide(three, s, { country: 'GB', ...london });
    expect([d.region, d.reason, d.notes]).toEqual(['eu-west', 'best-score', ['pool:countries[1]']]);
    expect(table(d)).toEqual([
      { region: 'eu-west', km: 463, rtt: 19.3, parts: { proximity: 0.9769, health: 0.4, latency: 0.9615, cost: 0.9231 }, score: 0.7953, excluded: undefined },
      { region: 'us-east', km: 5917, rtt: 128.3, parts: { proximity: 0.7043, health: 0.6, latency: 0.7433, cost: 1 }, score: 0.7104, excluded: 'outside-pool' },
      { region: 'ap-southeast', km: 10848, rtt: 227, parts: { proximity: 0.458, health: 0.98, latency: 0.5461, cost: 0.7692 }, score: 0.6633, excluded: 'outside-pool' },
    ]);
  });

  it('eu-west at its connection cap overflows to us-east', () => {
    const d = decide(three, { ...s, 'eu-west': { healthy: true, connections: 10_000, rps: 1500 } }, { country: 'GB', ...london });
    expect([d.region, d.reason, d.notes]).toEqual(['us-east', 'overflow', ['pool:countries[1]', 'fallback-of:eu-west']]);
  });

  it('a French client with eu-west down is refused under GDPR', () => {
    const d = decide(three, { ...s, 'eu-west': { healthy: false, connections: 0, rps: 0 } }, { country: 'FR' });
    expect([d.region, d.status, d.reason]).toEqual([null, 503, 'residency-no-region']);
  });

  it('measured RTTs move the country-less London client to us-east', () => {
    const rtt: Record<string, number> = { 'us-east': 70, 'eu-west': 180 };
    const d = decide(three, s, london, { measuredRttMs: (r) => rtt[r] });
    expect(table(d).map((c) => [c.region, c.score, c.parts?.latency])).toEqual([
      ['us-east', 0.7337, 0.86],
      ['eu-west', 0.7311, 0.64],
      ['ap-southeast', 0.6633, 0.5461],
    ]);
  });
});
