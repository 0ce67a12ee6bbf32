// Service calls observed: outcomes and durations counted, policy state (retries, budget,
// breakers) read at scrape time, and a span per call — with the real call policy (ServiceCaller)
// and attempts that answer what each case needs.
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, MeridianError } from '../../src/errors/mod.js';
import { NodeMetrics } from '../../src/observability/metrics.js';
import { callObserver, callOutcome, observeServices } from '../../src/services/observe.js';
import { ServiceCaller, seededRandom } from '../../src/services/mod.js';
import type { PolicyEndpoint } from '../../src/services/mod.js';
import type { ServicesModule } from '../../src/services/http/module.js';
import { promtoolCheck, promtoolMissing, value } from './prom.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => void trace.setGlobalTracerProvider(provider));
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
});

const ep = (key: string): PolicyEndpoint => ({ key, region: 'eu-west', weight: 1 });

describe('service call metrics', () => {
  it('counts calls by outcome, exports retries and breakers, and spans each call', async () => {
    const m = new NodeMetrics({ region: 'eu-west', node: 'n1', regions: ['us-east', 'eu-west'] });
    const c = new ServiceCaller({ endpoints: () => [ep('a'), ep('b')], services: { svc: { retries: { max: 2, baseDelayMs: 0 }, breaker: { mode: 'consecutive', failures: 1_000_000 }, outlier: { consecutiveFailures: 1_000_000 } } }, random: seededRandom(3) });
    c.observer = callObserver(m, 'service');
    m.addCaller({ kind: 'service', snapshot: () => c.snapshot() });
    for (let i = 0; i < 3; i++) expect((await c.invoke('svc', { method: 'GET' }, () => Promise.resolve({ status: 200 }))).status).toBe(200);
    // A GET answered 503 every time: 1 call, 3 attempts (2 retries), outcome server_error.
    expect((await c.invoke('svc', { method: 'GET' }, () => Promise.resolve({ status: 503 }))).status).toBe(503);
    expect((await c.invoke('svc', { method: 'POST' }, () => Promise.resolve({ status: 404 }))).status).toBe(404);
    const text = await m.registry.metrics();
    const calls = (outcome: string): number => value(text, 'meridian_service_calls_total', { kind: 'service', service: 'svc', outcome });
    expect([calls('ok'), calls('server_error'), calls('client_error')]).toEqual([3, 1, 1]);
    expect(value(text, 'meridian_service_call_duration_seconds_count', { service: 'svc' })).toBe(5);
    expect(value(text, 'meridian_service_retries_total', { service: 'svc' })).toBe(2);
    expect(value(text, 'meridian_breakers', { service: 'svc', state: 'closed' })).toBe(2);
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'meridian.service.call');
    expect(spans).toHaveLength(5);
    expect(spans.map((s) => s.attributes['meridian.outcome'])).toEqual(['ok', 'ok', 'ok', 'server_error', 'client_error']);
    if (promtoolMissing === undefined) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
  });

  it('exports the retry budget: retries it refused, and how many it still allows', async () => {
    const m = new NodeMetrics({ region: 'eu-west', node: 'n1', regions: ['us-east', 'eu-west'] });
    // A budget of one retry per 10 s window (0.1/s floor, no share of the traffic).
    const c = new ServiceCaller({ endpoints: () => [ep('a'), ep('b')], services: { tight: { retries: { max: 2, baseDelayMs: 0 }, retryBudget: { ratio: 0, minPerSecond: 0.1, windowMs: 10_000 }, breaker: { mode: 'consecutive', failures: 1_000_000 }, outlier: { consecutiveFailures: 1_000_000 } } }, random: seededRandom(5) });
    c.observer = callObserver(m, 'service');
    m.addCaller({ kind: 'service', snapshot: () => c.snapshot() });
    let attempts = 0;
    const answer = (status: number) => (): Promise<{ status: number }> => {
      attempts++;
      return Promise.resolve({ status });
    };
    const read = async (): Promise<(name: string) => number> => {
      const text = await m.registry.metrics();
      return (name) => value(text, name, { kind: 'service', service: 'tight' });
    };
    expect((await c.invoke('tight', { method: 'GET' }, answer(200))).status).toBe(200);
    let v = await read();
    expect([v('meridian_service_retry_budget_available'), v('meridian_service_retry_budget_denied_total')]).toEqual([1, 0]);
    // A GET answered 503: retried once (the budget's one), its second retry refused.
    attempts = 0;
    expect((await c.invoke('tight', { method: 'GET' }, answer(503))).status).toBe(503);
    expect(attempts).toBe(2);
    v = await read();
    expect([v('meridian_service_retries_total'), v('meridian_service_retry_budget_denied_total'), v('meridian_service_retry_budget_available')]).toEqual([1, 1, 0]);
    // The budget spent: the next 503 is not retried at all.
    attempts = 0;
    expect((await c.invoke('tight', { method: 'GET' }, answer(503))).status).toBe(503);
    expect(attempts).toBe(1);
    v = await read();
    expect([v('meridian_service_retries_total'), v('meridian_service_retry_budget_denied_total'), v('meridian_service_retry_budget_available')]).toEqual([1, 2, 0]);
    if (promtoolMissing === undefined) expect(promtoolCheck(await m.registry.metrics())).toEqual({ code: 0, output: '' });
  });

  it('spans and counts function invocations as kind="function", wired by observeServices', async () => {
    const m = new NodeMetrics({ region: 'eu-west', node: 'n1', regions: ['us-east', 'eu-west'] });
    const policy = { retries: { max: 0 }, breaker: { mode: 'consecutive' as const, failures: 1_000_000 }, outlier: { consecutiveFailures: 1_000_000 } };
    const services = new ServiceCaller({ endpoints: () => [ep('s')], services: { fn: policy }, random: seededRandom(1) });
    const functions = new ServiceCaller({ endpoints: () => [ep('f')], services: { fn: policy }, random: seededRandom(2) });
    // The parts of a ServicesModule observeServices touches: its two callers and its DLQ.
    observeServices(m, { services, functions: { caller: functions }, dlq: { list: () => Promise.resolve([]) } } as unknown as ServicesModule);
    exporter.reset();
    expect((await functions.invoke('fn', { method: 'POST' }, () => Promise.resolve({ status: 200 }))).status).toBe(200);
    expect((await functions.invoke('fn', { method: 'POST' }, () => Promise.resolve({ status: 500 }))).status).toBe(500);
    const text = await m.registry.metrics();
    const calls = (kind: string, outcome: string): number => value(text, 'meridian_service_calls_total', { kind, service: 'fn', outcome });
    expect([calls('function', 'ok'), calls('function', 'server_error')]).toEqual([1, 1]);
    expect(value(text, 'meridian_service_calls_total', { kind: 'service' })).toBe(0);
    expect(value(text, 'meridian_service_call_duration_seconds_count', { kind: 'function', service: 'fn' })).toBe(2);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['meridian.function.invoke', 'meridian.function.invoke']);
    expect(spans.map((s) => s.kind)).toEqual([SpanKind.CLIENT, SpanKind.CLIENT]);
    expect(spans.map((s) => [s.attributes['meridian.function'], s.attributes['meridian.region'], s.attributes['meridian.outcome'], s.attributes['http.response.status_code']])).toEqual([
      ['fn', 'eu-west', 'ok', 200],
      ['fn', 'eu-west', 'server_error', 500],
    ]);
    expect(spans[1]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(spans[0]!.attributes['meridian.service']).toBeUndefined();
  });

  it.each([
    [{ status: 204 }, 'ok'],
    [{ status: 429 }, 'client_error'],
    [{ status: 502 }, 'server_error'],
    [{ error: new MeridianError(ErrorCode.SvcTimeout, 't') }, 'timeout'],
    [{ error: new MeridianError(ErrorCode.SvcNoEndpoints, 'n') }, 'no_endpoints'],
    [{ error: new MeridianError(ErrorCode.SvcOverloaded, 'o') }, 'overloaded'],
    [{ error: new Error('boom') }, 'error'],
  ] as const)('outcome of %j is %s', (result, outcome) => {
    expect(callOutcome(result)).toBe(outcome);
  });
});
