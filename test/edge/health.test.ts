// Region health: the outlier detector on an injected clock, and the monitor's active probes
// against real stand-in regions (a /ready that answers 503, a server that refuses connections).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthMonitor, OutlierDetector, DEFAULT_OUTLIER } from '../../src/edge/health/mod.js';
import type { RegionHealth } from '../../src/edge/health/mod.js';
import { eventually, standIns, urlsOf } from './stand-in.js';
import type { StandIn } from './stand-in.js';

describe('edge health - outlier detection', () => {
  const regions = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'];

  it('ejects after N consecutive failures for base × ejections, capped, and lets the ejection end', () => {
    let now = 0;
    const o = new OutlierDetector(regions, { ...DEFAULT_OUTLIER, consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionMs: 2500 }, () => now);
    o.record('a', false);
    o.record('a', false);
    o.record('a', true); // a success resets the run
    o.record('a', false);
    o.record('a', false);
    expect(o.isEjected('a')).toBe(false);
    expect(o.record('a', false)).toBe(true);
    expect(o.view('a')).toEqual({ passiveFailures: 0, ejectedUntil: 1000, ejections: 1 });
    now = 1000;
    expect(o.isEjected('a')).toBe(false);
    for (let i = 0; i < 3; i++) o.record('a', false);
    expect(o.view('a').ejectedUntil).toBe(1000 + 2000); // second ejection: 2 × base
    now = 3000;
    for (let i = 0; i < 3; i++) o.record('a', false);
    expect(o.view('a').ejectedUntil).toBe(3000 + 2500); // third: 3 × base, capped at 2500
  });

  it('decays the multiplier with time spent un-ejected', () => {
    let now = 0;
    const o = new OutlierDetector(regions, { ...DEFAULT_OUTLIER, consecutiveFailures: 1, baseEjectionMs: 1000, maxEjectionMs: 100_000 }, () => now);
    o.record('a', false);
    now = 1000;
    o.record('a', false);
    expect(o.view('a').ejections).toBe(2);
    now = 3000 + 5000; // five base periods after the second ejection ended
    o.record('a', false);
    expect(o.view('a')).toMatchObject({ ejections: 1, ejectedUntil: 9000 });
  });

  it('ejects at most the configured share of regions, but always one', () => {
    const now = 0;
    const o = new OutlierDetector(regions, { ...DEFAULT_OUTLIER, consecutiveFailures: 1 }, () => now);
    expect(o.record('a', false)).toBe(true); // 10 % of 11 rounds down to 1: at least one
    expect(o.record('b', false)).toBe(false);
    expect(o.ejectedCount()).toBe(1);
    const three = new OutlierDetector(['x', 'y', 'z'], { ...DEFAULT_OUTLIER, consecutiveFailures: 1, maxEjectedShare: 0.67 }, () => now);
    expect([three.record('x', false), three.record('y', false), three.record('z', false)]).toEqual([true, true, false]);
  });
});

describe('edge health - active probes against real regions', () => {
  let regions: Record<string, StandIn>;
  let monitor: HealthMonitor;
  const changes: RegionHealth[] = [];

  beforeAll(async () => {
    regions = await standIns(['one', 'two']);
    monitor = new HealthMonitor({ regions: urlsOf(regions) });
    monitor.subscribe((h) => changes.push(h));
    await monitor.start();
  });
  afterAll(async () => {
    monitor.stop();
    await Promise.all(Object.values(regions).map((r) => r.stop()));
  });

  it('marks regions up on their first good probe', () => {
    expect(monitor.all().map((h) => [h.region, h.healthy, h.probeHealthy])).toEqual([
      ['one', true, true],
      ['two', true, true],
    ]);
    expect(monitor.health('one').lastProbe).toBeTypeOf('number');
  });

  it('takes a region whose /ready answers 503 down within 2 s, and back up only after 3 good probes', async () => {
    const one = regions['one']!;
    one.ready = false;
    const t0 = Date.now();
    const down = await eventually(() => (monitor.health('one').healthy ? undefined : monitor.health('one')), 3000);
    expect(Date.now() - t0).toBeLessThanOrEqual(2000);
    expect(down).toMatchObject({ healthy: false, probeHealthy: false, lastError: 'status 503' });
    expect(down.consecutiveFail).toBeGreaterThanOrEqual(2);

    one.ready = true;
    const seenOk: number[] = [];
    const up = await eventually(() => {
      const h = monitor.health('one');
      if (!h.healthy) seenOk.push(h.consecutiveOk);
      return h.healthy ? h : undefined;
    }, 5000, 10);
    // Hysteresis: still down while only one or two good probes had come in.
    expect(seenOk.some((n) => n >= 1 && n < 3)).toBe(true);
    const transition = changes.filter((c) => c.region === 'one').at(-1);
    expect(transition).toMatchObject({ healthy: true, consecutiveOk: 3 });
    expect(up.healthy).toBe(true);
  });

  it('takes a region that refuses connections down within 2 s', async () => {
    const two = regions['two']!;
    await two.stop();
    const t0 = Date.now();
    const h = await eventually(() => (monitor.health('two').healthy ? undefined : monitor.health('two')), 3000);
    expect(Date.now() - t0).toBeLessThanOrEqual(2000);
    expect(h.lastError).toBe('ECONNREFUSED');
    await two.start(); // same port again
    await eventually(() => (monitor.health('two').healthy ? true : undefined), 4000);
  });

  it('takes a region whose /ready hangs down within 2 s (probe timeout)', async () => {
    const two = regions['two']!;
    two.hang = true;
    const t0 = Date.now();
    const h = await eventually(() => (monitor.health('two').healthy ? undefined : monitor.health('two')), 3000);
    expect(Date.now() - t0).toBeLessThanOrEqual(2000);
    expect(h.lastError).toBe('timeout');
    two.hang = false;
  });

  it('ejects a region after consecutive proxied failures even while probes pass', () => {
    for (let i = 0; i < DEFAULT_OUTLIER.consecutiveFailures; i++) monitor.recordOutcome('one', false);
    const h = monitor.health('one');
    expect(h).toMatchObject({ healthy: false, probeHealthy: true, ejections: 1 });
    expect(h.ejectedUntil).toBeGreaterThan(Date.now() + 25_000);
  });
});
