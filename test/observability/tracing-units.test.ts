// traceparent in and out of bus headers, and what happens without an SDK (nothing).
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { extractContext, injectHeaders, parseTraceparent, startSpan, traceFields, traceparentOf, withSpan } from '../../src/observability/tracing.js';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';

describe('traceparent', () => {
  it.each([
    [`00-${TID}-${SID}-01`, { traceId: TID, spanId: SID, traceFlags: 1 }],
    [`00-${TID}-${SID}-00`, { traceId: TID, spanId: SID, traceFlags: 0 }],
    [`01-${TID}-${SID}-01-future`, { traceId: TID, spanId: SID, traceFlags: 1 }], // later versions may append fields
  ])('parses %s', (header, want) => {
    expect(parseTraceparent(header)).toEqual({ ...want, isRemote: true });
  });

  it.each([`00-${TID}-${SID}-01-extra`, `ff-${TID}-${SID}-01`, `00-${'0'.repeat(32)}-${SID}-01`, `00-${TID}-${'0'.repeat(16)}-01`, `00-${TID.toUpperCase()}-${SID}-01`, 'garbage', ''])('rejects %s', (header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('round-trips through bus headers', () => {
    const ctx = extractContext({ traceparent: `00-${TID}-${SID}-01` });
    expect(traceparentOf(ctx)).toBe(`00-${TID}-${SID}-01`);
    expect(injectHeaders(ctx, { other: 'x' })).toEqual({ other: 'x', traceparent: `00-${TID}-${SID}-01` });
    expect(traceFields(ctx)).toEqual({ traceId: TID, spanId: SID });
  });

  it('without an SDK: non-recording spans, no header, no trace fields', () => {
    const span = startSpan('meridian.send', SpanKind.SERVER, ROOT_CONTEXT);
    expect(span.isRecording()).toBe(false);
    const ctx = withSpan(ROOT_CONTEXT, span);
    expect(injectHeaders(ctx)).toBeUndefined();
    expect(traceFields(ctx)).toEqual({});
    span.end();
    // A remote parent is still carried on (a non-recording span keeps the parent's context).
    const child = startSpan('meridian.fanout', SpanKind.CONSUMER, extractContext({ traceparent: `00-${TID}-${SID}-01` }));
    expect(child.spanContext().traceId).toBe(TID);
    expect(trace.getSpan(extractContext(undefined))).toBeUndefined();
  });
});
