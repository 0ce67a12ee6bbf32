/**
 * Call policies: retries (idempotent only) under a retry budget, breakers through their states,
 * bulkhead, outlier ejection, timeouts, region failover, config checks. Fake endpoints and an
 * injected clock keep these fast and exact; P2C against real HTTP servers is in p2c-http.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MeridianError } from '../../src/errors/mod.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import { OutlierDetector, ServiceCaller, resolvePolicy, seededRandom } from '../../src/services/mod.js';
import type { PolicyConfig, PolicyEndpoint } from '../../src/services/mod.js';

const ep = (key: string, region = 'eu-west', weight = 1): PolicyEndpoint => ({ key, region, weight });
const res = (status: number): { status: number } => ({ status });
/** Isolate one mechanism: the others never trigger. */
const QUIET: PolicyConfig = {
  retries: { max: 0 },
  breaker: { mode: 'consecutive', failures: 1_000_000 },
  outlier: { consecutiveFailures: 1_000_000 },
};

function caller(endpoints: readonly PolicyEndpoint[], cfg: PolicyConfig, now: () => number = Date.now): ServiceCaller {
  return new ServiceCaller({ endpoints: () => endpoints, services: { svc: { ...QUIET, ...cfg } }, now, random: seededRandom(7) });
}

describe('retries', () => {
  it('retries only idempotent requests or requests with an idempotency key', async () => {
    const c = caller([ep('a'), ep('b'), ep('c')], { retries: { max: 2, baseDelayMs: 0 } });
    let attempts = 0;
    const failing = (): Promise<{ status: number }> => (attempts++, Promise.resolve(res(503)));
    const count = async (req: Parameters<ServiceCaller['invoke']>[1]): Promise<number> => {
      attempts = 0;
      expect((await c.invoke('svc', req, failing)).status).toBe(503); // the last response is relayed
      return attempts;
    };
    expect(await count({ method: 'GET' })).toBe(3);
    expect(await count({ method: 'put' })).toBe(3);
    expect(await count({ method: 'POST' })).toBe(1);
    expect(await count({ method: 'POST', idempotencyKey: 'k-1' })).toBe(3);
    expect(await count({ method: 'POST', idempotent: true })).toBe(3);
    // Thrown transport errors follow the same rule.
    attempts = 0;
    const boom = (): Promise<never> => (attempts++, Promise.reject(new Error('ECONNREFUSED')));
    await expect(c.invoke('svc', { method: 'POST' }, boom)).rejects.toThrow('ECONNREFUSED');
    expect(attempts).toBe(1);
    attempts = 0;
    await expect(c.invoke('svc', { method: 'GET' }, boom)).rejects.toThrow('ECONNREFUSED');
    expect(attempts).toBe(3);
  });

  it('retries only gateway statuses, and moves each retry to an endpoint not tried yet, local region first', async () => {
    const c = caller([ep('local-1'), ep('local-2'), ep('far', 'us-east')], { retries: { max: 3, baseDelayMs: 0 } });
    const seen: string[] = [];
    const r = await c.invoke('svc', { method: 'GET' }, (e) => (seen.push(e.key), Promise.resolve(res(e.key === 'far' ? 200 : 502))));
    expect(r.status).toBe(200);
    expect(seen.slice(0, 2).sort()).toEqual(['local-1', 'local-2']);
    expect(seen[2]).toBe('far');
    seen.length = 0;
    expect((await c.invoke('svc', { method: 'GET' }, (e) => (seen.push(e.key), Promise.resolve(res(500))))).status).toBe(500);
    expect((await c.invoke('svc', { method: 'GET' }, (e) => (seen.push(e.key), Promise.resolve(res(404))))).status).toBe(404);
    expect(seen).toHaveLength(2); // neither 500 nor 404 is retried
  });

  it('the retry budget caps retries during a total outage at 20 % of requests plus the floor', async () => {
    const now = 1_000_000; // frozen clock: every request falls in one window
    const budget = { ratio: 0.2, minPerSecond: 1, windowMs: 10_000 }; // floor: 10 retries per window
    const run = async (cfg: PolicyConfig): Promise<number> => {
      const c = caller([ep('a'), ep('b'), ep('c')], cfg, () => now);
      let attempts = 0;
      for (let i = 0; i < 200; i++) await c.invoke('svc', { method: 'GET' }, () => (attempts++, Promise.resolve(res(503))));
      return attempts;
    };
    const capped = await run({ retries: { max: 3, baseDelayMs: 0 }, retryBudget: budget });
    expect(capped).toBeGreaterThan(200);
    expect(capped).toBeLessThanOrEqual(200 * 1.2 + 10);
    // The same outage without a budget worth the name: every request tries four times.
    expect(await run({ retries: { max: 3, baseDelayMs: 0 }, retryBudget: { ...budget, minPerSecond: 1000 } })).toBe(800);
  });

  it('the budget refills as the window slides', async () => {
    let now = 0;
    const c = caller([ep('a')], { retries: { max: 1, baseDelayMs: 0 }, retryBudget: { ratio: 0, minPerSecond: 0.5, windowMs: 2000 } }, () => now);
    const fail = (): Promise<{ status: number }> => Promise.resolve(res(503));
    for (let i = 0; i < 3; i++) await c.invoke('svc', { method: 'GET' }, fail);
    expect(c.policy('svc').snapshot().budget).toMatchObject({ retries: 1, allowed: 1, denied: 2 });
    now += 2500;
    await c.invoke('svc', { method: 'GET' }, fail);
    expect(c.policy('svc').snapshot().budget).toMatchObject({ retries: 1, denied: 2 });
  });
});

describe('circuit breaker per endpoint', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens after consecutive failures, probes once half-open, and closes on success', async () => {
    vi.useFakeTimers({ toFake: ['Date'] }); // cockatiel times breakers with Date.now
    const c = caller([ep('a')], { breaker: { mode: 'consecutive', failures: 3, halfOpenAfterMs: 1000 } });
    const p = c.policy('svc');
    let status = 503;
    const call = (): Promise<{ status: number }> => c.invoke('svc', { method: 'GET' }, () => Promise.resolve(res(status)));
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(503);
    expect(p.snapshot().endpoints[0]).toMatchObject({ key: 'a', breaker: 'open' });
    await expect(call()).rejects.toMatchObject({ code: ErrorCode.SvcNoEndpoints });
    vi.advanceTimersByTime(1000);
    // Half-open: one probe goes through; it fails, so the breaker opens again.
    expect((await call()).status).toBe(503);
    expect(p.snapshot().endpoints[0]!.breaker).toBe('open');
    await expect(call()).rejects.toMatchObject({ code: ErrorCode.SvcNoEndpoints });
    vi.advanceTimersByTime(1000);
    status = 200;
    let during = '';
    const ok = await c.invoke('svc', { method: 'GET' }, async () => {
      await new Promise((r) => setImmediate(r)); // cockatiel marks half-open just after starting the probe
      during = p.snapshot().endpoints[0]!.breaker;
      return res(200);
    });
    expect(ok.status).toBe(200);
    expect(during).toBe('half-open');
    expect(p.snapshot().endpoints[0]!.breaker).toBe('closed');
  });

  it('in sampling mode opens on the failure rate over the window', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const c = caller([ep('a')], { breaker: { mode: 'sampling', threshold: 0.5, windowMs: 1000, minimumRps: 1, halfOpenAfterMs: 500 } });
    let i = 0;
    // Alternate 200 and 503 (50 %), then one more failure tips the rate over the threshold.
    const call = (status: number): Promise<unknown> => c.invoke('svc', { method: 'GET' }, () => Promise.resolve(res(status))).catch((e: unknown) => e);
    for (; i < 10; i++) await call(i % 3 === 0 ? 200 : 503);
    expect(c.policy('svc').snapshot().endpoints[0]!.breaker).toBe('open');
    vi.advanceTimersByTime(500);
    await call(200);
    expect(c.policy('svc').snapshot().endpoints[0]!.breaker).toBe('closed');
  });
});

describe('bulkhead', () => {
  it('refuses requests beyond the concurrency limit with SVC_OVERLOADED, then admits again', async () => {
    const c = caller([ep('a')], { bulkhead: { maxConcurrent: 2, queue: 1 } });
    const releases: Array<() => void> = [];
    const slow = (): Promise<{ status: number }> => new Promise((r) => releases.push(() => r(res(200))));
    let done = 0;
    const running = [1, 2, 3].map(() => c.invoke('svc', { method: 'GET' }, slow).then(() => done++));
    const err = await c.invoke('svc', { method: 'GET' }, slow).catch((e: unknown) => e);
    expect(isMeridianError(err, ErrorCode.SvcOverloaded)).toBe(true);
    expect((err as MeridianError).details).toMatchObject({ maxConcurrent: 2, queue: 1 });
    expect(c.policy('svc').snapshot().bulkhead).toMatchObject({ available: 0, queueAvailable: 0 });
    expect(c.policy('svc').snapshot().counters.overloaded).toBe(1);
    // The queued request runs once a slot frees up.
    while (done < 3) {
      releases.splice(0).forEach((r) => r());
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(running);
    expect((await c.invoke('svc', { method: 'GET' }, () => Promise.resolve(res(200)))).status).toBe(200);
  });
});

describe('outlier ejection', () => {
  it('ejects after consecutive failures for base × n, capped', () => {
    let now = 0;
    const d = new OutlierDetector({ consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectedShare: 0.1 }, () => now);
    const durations: number[] = [];
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 4; i++) expect(d.onFailure('a', 10)).toBe(0);
      const ms = d.onFailure('a', 10);
      durations.push(ms);
      expect(d.isEjected('a')).toBe(true);
      now += ms; // back in the pool exactly when the ejection ends, and failing at once
      expect(d.isEjected('a')).toBe(false);
    }
    expect(durations).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300].map((s) => s * 1000));
    // A long healthy spell decays the multiplier: 4 × 30 s back in the pool takes n from 12 to 8.
    now += 4 * 30_000;
    for (let i = 0; i < 5; i++) d.onFailure('a', 10);
    expect(d.snapshot('a')).toMatchObject({ ejected: true, ejections: 9, until: now + 270_000 });
  });

  it('never ejects more than the maximum share of the pool, but always allows one', () => {
    const d = new OutlierDetector({ consecutiveFailures: 1, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectedShare: 0.1 }, () => 0);
    expect(d.onFailure('a', 3)).toBe(30_000); // 10 % of 3 < 1: one is still allowed
    expect(d.onFailure('b', 3)).toBe(0);
    expect(d.onFailure('c', 20)).toBe(30_000); // 10 % of 20 = 2
    expect(d.onFailure('d', 20)).toBe(0);
    expect(d.ejectedCount()).toBe(2);
  });

  it('an ejected endpoint gets no requests until its ejection ends', async () => {
    let now = 0;
    const c = caller([ep('bad'), ep('good')], { outlier: { consecutiveFailures: 2, baseEjectionMs: 1000, maxEjectionMs: 5000 } }, () => now);
    const hits = { bad: 0, good: 0 };
    const call = (): Promise<unknown> => c.invoke('svc', { method: 'GET' }, (e) => (hits[e.key as 'bad']++, Promise.resolve(res(e.key === 'bad' ? 503 : 200))));
    while (hits.bad < 2) await call();
    expect(c.policy('svc').snapshot().endpoints.find((e) => e.key === 'bad')!.ejection).toMatchObject({ ejected: true, until: 1000, ejections: 1 });
    const before = hits.bad;
    for (let i = 0; i < 20; i++) await call();
    expect(hits.bad).toBe(before);
    now = 1000;
    while (hits.bad === before) await call();
  });
});

describe('timeouts and configuration', () => {
  it('times out an attempt, aborts its signal, and retries elsewhere when idempotent', async () => {
    const c = caller([ep('stuck'), ep('ok')], { timeoutMs: 50, retries: { max: 1, baseDelayMs: 0 } });
    const aborted: string[] = [];
    const attempt = (e: PolicyEndpoint, ctx: { signal: AbortSignal }): Promise<{ status: number }> => {
      if (e.key === 'ok') return Promise.resolve(res(200));
      ctx.signal.addEventListener('abort', () => aborted.push(e.key));
      return new Promise(() => {});
    };
    // Force 'stuck' first: with no retry the POST must surface the timeout.
    const stuckOnly = caller([ep('stuck')], { timeoutMs: 50 });
    const err = await stuckOnly.invoke('svc', { method: 'POST' }, attempt).catch((e: unknown) => e);
    expect(isMeridianError(err, ErrorCode.SvcTimeout)).toBe(true);
    expect(aborted).toEqual(['stuck']);
    for (let i = 0; i < 5; i++) expect((await c.invoke('svc', { method: 'GET' }, attempt)).status).toBe(200);
  });

  it('reports every bad policy value at once', () => {
    let err: unknown;
    try {
      resolvePolicy({ timeoutMs: 0, retries: { max: -1 }, retryBudget: { ratio: 2 }, outlier: { maxEjectedShare: 1.5 }, bulkhead: { maxConcurrent: 0 } }, 'llm');
    } catch (e) {
      err = e;
    }
    expect(isMeridianError(err, ErrorCode.SvcInvalidPolicy)).toBe(true);
    expect((err as MeridianError).details['problems']).toHaveLength(5);
    expect(() => new ServiceCaller({ endpoints: () => [], services: { x: { breaker: { mode: 'sampling', threshold: 0 } } } })).toThrow(/breaker.threshold/);
    expect(resolvePolicy()).toMatchObject({ timeoutMs: 15_000, retries: { max: 2 }, retryBudget: { ratio: 0.2, minPerSecond: 3 }, outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectedShare: 0.1 } });
  });

  it('fails fast with SVC_NO_ENDPOINTS when a service has none', async () => {
    const c = caller([], {});
    await expect(c.invoke('svc', { method: 'GET' }, () => Promise.resolve(res(200)))).rejects.toMatchObject({ code: ErrorCode.SvcNoEndpoints });
  });
});
