// The SLO maths by table: availability, error budget, burn rate, bucket quantiles and rolling
// windows, with an injected clock. Every expected number below is computed by hand in the row.
import { describe, expect, it } from 'vitest';
import { SloTracker, bucketOf, errorBudget, evaluateWindow, quantileFromBuckets } from '../../src/observability/slo.js';
import type { SloTargets } from '../../src/observability/slo.js';
import { KeyedRates, RateWindow } from '../../src/observability/windows.js';

const T: SloTargets = { availability: 0.99, p95Ms: 100, p99Ms: 200 };

describe('evaluateWindow', () => {
  it.each([
    // total, failed, targets, availability, errorRate, burnRate, ok
    [100, 0, T, 1, 0, 0, true],
    [100, 1, T, 0.99, 0.01, 1, true], // exactly on target: budget spent at the pace allowed
    [100, 2, T, 0.98, 0.02, 2, false], // 0.02 / (1 - 0.99) = 2
    [1000, 5, { availability: 0.999 }, 0.995, 0.005, 5, false], // 0.005 / 0.001
    [200, 10, { availability: 0.99, errorRate: 0.1 }, 0.95, 0.05, 0.5, false], // errorRate budget: 0.05 / 0.1; availability misses
    [200, 10, { errorRate: 0.1 }, 0.95, 0.05, 0.5, true],
    [0, 0, T, null, null, null, true], // no data: nothing to judge
    [10, 1, {}, 0.9, 0.1, null, true], // no budget: no burn rate
  ] as const)('%i events, %i failed → availability %s, burn %s', (total, failed, targets, availability, errorRate, burn, ok) => {
    const w = evaluateWindow(targets, total, failed, []);
    expect(w.good).toBe(total - failed);
    if (availability === null) expect(w.availability).toBeNull();
    else expect(w.availability).toBeCloseTo(availability, 12);
    if (errorRate === null) expect(w.errorRate).toBeNull();
    else expect(w.errorRate).toBeCloseTo(errorRate, 12);
    if (burn === null) expect(w.burnRate).toBeNull();
    else expect(w.burnRate).toBeCloseTo(burn, 9);
    expect(w.ok).toBe(ok);
  });

  it('a zero budget burns at Infinity on any failure, 0 without', () => {
    expect(evaluateWindow({ availability: 1 }, 10, 1, []).burnRate).toBe(Infinity);
    expect(evaluateWindow({ availability: 1 }, 10, 0, []).burnRate).toBe(0);
  });

  it('latency targets judge p95 and p99', () => {
    const bounds = [50, 100, 200, 400];
    // 100 deliveries: 90 in (0,50], 10 in (200,400]. p95: rank 95 → 5 into the (200,400] bucket of 10 → 200 + 200·5/10 = 300.
    const w = evaluateWindow(T, 0, 0, [90, 0, 0, 10, 0], bounds);
    expect(w.latencyCount).toBe(100);
    expect(w.p95Ms).toBeCloseTo(300, 9);
    // p99: rank 99 → 9 into that bucket → 200 + 200·9/10 = 380.
    expect(w.p99Ms).toBeCloseTo(380, 9);
    // p50: rank 50 of 90 in (0,50] → 50·50/90.
    expect(w.p50Ms).toBeCloseTo((50 * 50) / 90, 9);
    expect(w.ok).toBe(false);
    expect(evaluateWindow(T, 0, 0, [100, 0, 0, 0, 0], bounds).ok).toBe(true);
  });
});

describe('quantiles and buckets', () => {
  it.each([
    [[10, 20, 50], [0, 10, 0, 0], 0.5, 15],
    [[10, 20, 50], [0, 10, 0, 0], 0.95, 19.5],
    [[10, 20, 50], [4, 4, 2, 0], 0.5, 12.5], // rank 5: 1 into the (10,20] bucket of 4
    [[10, 20, 50], [0, 0, 0, 5], 0.99, 50], // +Inf: the highest finite bound
    [[10, 20, 50], [0, 0, 0, 0], 0.5, null],
  ] as const)('bounds %j counts %j q=%s → %s', (bounds, counts, q, want) => {
    const v = quantileFromBuckets(bounds, counts, q);
    if (want === null) expect(v).toBeNull();
    else expect(v).toBeCloseTo(want, 9);
  });

  it.each([
    [0, 0],
    [10, 0],
    [10.01, 1],
    [50, 2],
    [51, 3],
  ])('bucketOf(%s) = %i', (v, i) => {
    expect(bucketOf([10, 20, 50], v)).toBe(i);
  });

  it('errorBudget: errorRate wins over availability', () => {
    expect(errorBudget({ availability: 0.99 })).toBeCloseTo(0.01, 12);
    expect(errorBudget({ availability: 0.99, errorRate: 0.05 })).toBe(0.05);
    expect(errorBudget({})).toBeNull();
  });
});

describe('SloTracker windows', () => {
  it('outcomes leave the 5-minute window after 5 minutes and the hour after an hour', () => {
    let now = 1_000_000_000;
    const t = new SloTracker({ availability: 0.9 }, () => now);
    for (let i = 0; i < 9; i++) t.outcome(true);
    t.outcome(false);
    t.latency(42);
    let r = t.report();
    expect(r.windows['5m']).toMatchObject({ total: 10, failed: 1, latencyCount: 1 });
    expect(r.burnRate5m).toBeCloseTo(1, 9); // 0.1 / (1 - 0.9)
    now += 6 * 60_000;
    t.outcome(true);
    r = t.report();
    expect(r.windows['5m']).toMatchObject({ total: 1, failed: 0, availability: 1 });
    expect(r.windows['1h']).toMatchObject({ total: 11, failed: 1 });
    expect(r.burnRate1h).toBeCloseTo(1 / 11 / 0.1, 9);
    expect(r.burnRate5m).toBe(0);
    now += 61 * 60_000;
    r = t.report();
    expect(r.windows['1h'].total).toBe(0);
    expect(r.burnRate1h).toBeNull();
  });
});

describe('rates', () => {
  it('a 1-minute rate counts the last 60 one-second slots', () => {
    let now = 5_000_000;
    const r = new RateWindow(() => now);
    r.add(30);
    now += 30_000;
    r.add(30);
    expect(r.perSec()).toBe(1);
    now += 31_000; // the first 30 left the window
    expect(r.count()).toBe(30);
    const k = new KeyedRates(() => now, 2);
    k.add('a', 6);
    k.add('b');
    k.add('c'); // over the key cap: dropped, never a new series
    expect(k.counts()).toEqual({ a: 6, b: 1 });
    expect(k.perSec('a')).toBeCloseTo(0.1, 12);
  });
});
