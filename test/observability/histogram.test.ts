import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../src/observability/histogram.js';
import { MAX_SERVICES, NodeMetrics } from '../../src/observability/metrics.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.1, 1, 10];

/** The exposition's sample lines as a set, labels sorted (label order is not meaningful). */
function samples(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-z_]+)(?:\{(.*)\})? (.+)$/.exec(l);
      if (!m) throw new Error(`not a sample line: ${l}`);
      const labels = (m[2] ?? '').split(',').filter((x) => x !== '').sort().join(',');
      return `${m[1]}{${labels}} ${Number(m[3])}`;
    })
    .sort();
}

describe('FastHistogram', () => {
  it('writes the same exposition as prom-client\'s Histogram for the same observations (any values, two label sets)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('us-east', 'eu-west'), fc.oneof(fc.double({ min: 0, max: 20, noNaN: true }), fc.constantFrom(...BUCKETS))), { maxLength: 60 }), async (obs) => {
        const theirs = new Registry();
        const ours = new Registry();
        for (const r of [theirs, ours]) r.setDefaultLabels({ region: 'r1', node: 'n1' });
        const ref = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['source_region'], buckets: BUCKETS, registers: [theirs] });
        const fast = new FastHistogram({ name: 'x_seconds', help: 'h', labelNames: ['source_region'], buckets: BUCKETS, registers: [ours] });
        for (const [region, v] of obs) {
          ref.labels(region).observe(v);
          fast.labels(region).observe(v);
        }
        // prom-client shows a label set once observed; ours once asked for: ask only for observed ones.
        const a = await theirs.metrics();
        const b = await ours.metrics();
        expect(samples(b)).toEqual(samples(a));
        expect(b.split('\n').slice(0, 2)).toEqual(a.split('\n').slice(0, 2));
      }),
      { numRuns: 60 },
    );
  });

  it('counts a value equal to a bound in that bucket, above every bound only in +Inf, and ignores NaN', async () => {
    const r = new Registry();
    const h = new FastHistogram({ name: 'y_seconds', help: 'h', buckets: [1, 2], registers: [r] });
    for (const v of [1, 2, 3, Number.NaN, Number.POSITIVE_INFINITY]) h.observe(v);
    const text = await r.metrics();
    expect(text).toContain('y_seconds_bucket{le="1"} 1');
    expect(text).toContain('y_seconds_bucket{le="2"} 2');
    expect(text).toContain('y_seconds_bucket{le="+Inf"} 3');
    expect(text).toContain('y_seconds_sum 6');
    expect(text).toContain('y_seconds_count 3');
    h.reset();
    expect(await r.metrics()).toContain('y_seconds_count 0');
  });

  it('refuses unsorted buckets, the le label and a wrong number of label values', () => {
    expect(() => new FastHistogram({ name: 'a', help: 'h', buckets: [2, 1] })).toThrow(/ascending/);
    expect(() => new FastHistogram({ name: 'b', help: 'h', buckets: [1], labelNames: ['le'] })).toThrow(/reserved/);
    expect(() => new FastHistogram({ name: 'c', help: 'h', buckets: [1], labelNames: ['x'] }).labels()).toThrow(/label values/);
  });
});

describe('service call metrics (counted in plain numbers, pushed at scrape time)', () => {
  it('counts calls by kind, service and outcome, times them, and folds names past the cap into "other"', async () => {
    const m = new NodeMetrics({ region: 'r1', node: 'n1', regions: ['r1'] });
    m.serviceCall('service', 'svc', 'ok', 0.002);
    m.serviceCall('service', 'svc', 'ok', 0.02);
    m.serviceCall('service', 'svc', 'timeout', 5);
    m.serviceCall('function', 'svc', 'error', 0.001);
    for (let i = 0; i < MAX_SERVICES + 5; i++) m.serviceCall('service', `many-${i}`, 'ok', 0.001);
    const text = await m.registry.metrics();
    const line = (name: string, labels: string): number => Number(new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    expect(line('meridian_service_calls_total', 'kind="service",service="svc",outcome="ok"')).toBe(2);
    expect(line('meridian_service_calls_total', 'kind="service",service="svc",outcome="timeout"')).toBe(1);
    expect(line('meridian_service_calls_total', 'kind="function",service="svc",outcome="error"')).toBe(1);
    expect(line('meridian_service_call_duration_seconds_count', 'kind="service",service="svc"')).toBe(3);
    expect(line('meridian_service_call_duration_seconds_bucket', 'le="0.025",kind="service",service="svc"')).toBe(2);
    // svc took one of the cap's places: MAX_SERVICES - 1 of the many are named, the rest are "other".
    expect(line('meridian_service_calls_total', 'kind="service",service="other",outcome="ok"')).toBe(6);
    expect(text.match(/meridian_service_calls_total\{kind="service",service="many-/g)?.length).toBe(MAX_SERVICES - 1);
  });
});
