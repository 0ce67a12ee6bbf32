/**
 * Spans under a trace the sampler declined: the SDK is not asked again for each child (a
 * parent-based sampler would decline them all); the child is the parent's context, non-recording,
 * and what goes into bus headers still says "not sampled". A sampled trace still gets a new span
 * per child. With a real SDK registered (sdk-trace-base), sampling nothing or everything.
 */
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { TRACEPARENT, injectHeaders, startSpan, withSpan } from '../../src/observability/tracing.js';

describe('spans under a declined trace', () => {
  afterEach(() => trace.disable());

  it('a child of an unsampled span is its parent context, not a new SDK span; headers say not sampled', () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler: new AlwaysOffSampler() }));
    const root = startSpan('meridian.send', SpanKind.SERVER);
    expect(root.isRecording()).toBe(false);
    const child = startSpan('meridian.log.append', SpanKind.INTERNAL, withSpan(ROOT_CONTEXT, root));
    expect(child.isRecording()).toBe(false);
    expect(child.spanContext()).toEqual(root.spanContext());
    // Bus headers still carry the trace as not sampled, so other regions decline it too.
    const headers = injectHeaders(withSpan(ROOT_CONTEXT, child));
    expect(headers?.[TRACEPARENT]).toBe(`00-${root.spanContext().traceId}-${root.spanContext().spanId}-00`);
  });

  it('a sampled trace still gets a new span for each child, all exported', () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    const root = startSpan('meridian.send', SpanKind.SERVER);
    const child = startSpan('meridian.log.append', SpanKind.INTERNAL, withSpan(ROOT_CONTEXT, root));
    expect(child.isRecording()).toBe(true);
    expect(child.spanContext().spanId).not.toBe(root.spanContext().spanId);
    expect(child.spanContext().traceId).toBe(root.spanContext().traceId);
    child.end();
    root.end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['meridian.log.append', 'meridian.send']);
  });
});
