// One cross-region send is one trace with spans from two regions: an in-memory exporter behind
// a BasicTracerProvider registered as the global provider. No context manager is registered:
// Meridian passes trace context explicitly (and over the bus in `traceparent` headers), so none
// is needed.
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestClient } from '../node/client.js';
import { waitFor } from '../e2e/helpers.js';
import type { DeploymentFactory, E2eDeployment } from '../e2e/deployments.js';
import { promtoolCheck, promtoolMissing, value } from './prom.js';

export function tracingSuite(factory: DeploymentFactory): void {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let d: E2eDeployment;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    d = await factory();
  }, 60_000);
  afterAll(async () => {
    await d?.close();
    await provider.shutdown();
    trace.disable();
  });

  const post = (region: string, from: string, to: string, id: string): Promise<Response> =>
    fetch(`${d.inner.urls[region]}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to: { user: to }, body: id, clientMsgId: id }) });

  const traceOf = (name: string, pred: (s: ReadableSpan) => boolean): ReadableSpan[] => {
    const root = exporter.getFinishedSpans().find((s) => s.name === name && pred(s));
    if (!root) return [];
    return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === root.spanContext().traceId);
  };
  const regionsOf = (spans: ReadableSpan[]): string[] => [...new Set(spans.map((s) => s.attributes['meridian.region']).filter((r): r is string => typeof r === 'string'))].sort();
  const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

  it('a send homed in the sender\'s region: send → append → publish there, fan-out → session write in the recipient\'s', async () => {
    const bob = await TestClient.dev(d.wsUrl('eu-west'), 'bob');
    try {
      exporter.reset();
      expect((await post('us-east', 'alice', 'bob', 't1')).status).toBe(201);
      await waitFor(() => bob.frames.some((f) => f.type === 'message'), 'bob gets the message');
      let spans: ReadableSpan[] = [];
      await waitFor(() => (spans = traceOf('meridian.send', (s) => s.attributes['meridian.region'] === 'us-east')).some((s) => s.name === 'meridian.session.write'), 'the session write ends the trace');
      const byName = new Map(spans.map((s) => [s.name, s]));
      for (const n of ['meridian.send', 'meridian.log.append', 'meridian.publish', 'meridian.fanout', 'meridian.session.write']) expect(byName.has(n), n).toBe(true);
      expect(regionsOf(spans)).toEqual(['eu-west', 'us-east']);
      const send = byName.get('meridian.send')!;
      expect(parentOf(byName.get('meridian.log.append')!)).toBe(send.spanContext().spanId);
      expect(parentOf(byName.get('meridian.publish')!)).toBe(send.spanContext().spanId);
      // The fan-out in eu-west continues from the publish in us-east (traceparent in the bus headers).
      expect(parentOf(byName.get('meridian.fanout')!)).toBe(byName.get('meridian.publish')!.spanContext().spanId);
      expect(byName.get('meridian.fanout')!.attributes['meridian.region']).toBe('eu-west');
      expect(parentOf(byName.get('meridian.session.write')!)).toBe(byName.get('meridian.fanout')!.spanContext().spanId);
    } finally {
      bob.ws.close();
    }
  });

  it('the same traffic on this bus: deliveries and latency counted by source region; promtool accepts the exposition', async () => {
    const text = await (await fetch(`${d.inner.urls['eu-west']}/metrics`)).text();
    // The first test's message from us-east reached bob's one session in eu-west.
    expect(value(text, 'meridian_deliveries_total', { source_region: 'us-east', destination_region: 'eu-west' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'meridian_delivery_latency_seconds_count', { source_region: 'us-east' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'meridian_bus_connected')).toBe(1);
    if (promtoolMissing === undefined) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
  });

  it('a send forwarded to its home region: send → forward in one region, home.send → append → publish in the other', async () => {
    const bob = await TestClient.dev(d.wsUrl('eu-west'), 'bob');
    try {
      exporter.reset();
      // dm:alice:bob is homed in us-east (the first test); bob answers from eu-west.
      expect((await post('eu-west', 'bob', 'alice', 't2')).status).toBe(201);
      await waitFor(() => bob.frames.some((f) => f.type === 'message' && f.from === 'bob'), 'bob\'s own session gets his message');
      let spans: ReadableSpan[] = [];
      await waitFor(() => (spans = traceOf('meridian.send', (s) => s.attributes['meridian.region'] === 'eu-west')).some((s) => s.name === 'meridian.session.write'), 'the whole trace is exported');
      const byName = new Map(spans.map((s) => [s.name, s]));
      for (const n of ['meridian.send', 'meridian.forward', 'meridian.home.send', 'meridian.log.append', 'meridian.publish', 'meridian.fanout', 'meridian.session.write']) expect(byName.has(n), n).toBe(true);
      expect(regionsOf(spans)).toEqual(['eu-west', 'us-east']);
      const home = byName.get('meridian.home.send')!;
      expect(home.attributes['meridian.region']).toBe('us-east');
      expect(parentOf(home)).toBe(byName.get('meridian.forward')!.spanContext().spanId);
      expect(parentOf(byName.get('meridian.log.append')!)).toBe(home.spanContext().spanId);
      expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    } finally {
      bob.ws.close();
    }
  });
}
