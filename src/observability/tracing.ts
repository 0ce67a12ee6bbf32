/**
 * Traces with `@opentelemetry/api`: the tracer every Meridian span comes from, and the W3C
 * `traceparent` header carried in bus messages so one cross-region send is one trace.
 *
 * Costs nothing without an SDK: the API's tracer then returns non-recording spans with an
 * invalid context, `inject` writes no header, and no per-session spans are made.
 *
 * Context is passed explicitly (a parent `Context` argument), never read from `context.active()`
 * across awaits: so traces hold together whether or not the application registered a context
 * manager (AsyncLocalStorage). A context manager, when registered, is still honoured for the
 * root: a send made inside an application span becomes its child.
 *
 * traceparent is written and parsed here (version 00: `00-<32 hex trace id>-<16 hex span id>-
 * <2 hex flags>`), not through the global propagator, so bus headers work without registering one.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, context, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, SpanContext, Tracer } from '@opentelemetry/api';
import { VERSION } from '../version.js';

export { SpanKind };
export type { Context, Span };

export const TRACEPARENT = 'traceparent';
export const TRACER_NAME = 'meridian';

/**
 * The Meridian tracer, looked up again only when the global provider object changes (a provider
 * registered after the first call is still picked up: the API's proxy tracer resolves it lazily,
 * and `trace.disable()` installs a new proxy provider).
 */
let cachedTracer: { provider: unknown; tracer: Tracer } | undefined;
export function tracer(): Tracer {
  const provider = trace.getTracerProvider();
  if (cachedTracer?.provider !== provider) cachedTracer = { provider, tracer: provider.getTracer(TRACER_NAME, VERSION) };
  return cachedTracer.tracer;
}

/** The context to start a root operation in: the active one (an application span), if any. */
export function activeContext(): Context {
  return context.active();
}

/**
 * Start a span as a child of `parent` (default: the active context). Under a parent the sampler
 * declined (a valid context, not sampled, not recording), a parent-based sampler (the SDK's
 * default) declines every child too: the parent's context comes back as a non-recording span
 * instead of asking the SDK for a new one (ids, a sampler call and objects for each of a send's
 * seven spans, measured at a few % of a cross-region send's CPU). Traces that are sampled are
 * unchanged; an unsampled trace propagates the parent's span id instead of an unrecorded one's.
 */
export function startSpan(name: string, kind: SpanKind, parent: Context = context.active(), attributes?: Attributes): Span {
  const p = trace.getSpan(parent);
  if (p !== undefined && !p.isRecording()) {
    const sc = p.spanContext();
    // The parent span itself: non-recording, so ending it again is a no-op, and withSpan below
    // then hands back `parent` without a new context (no objects per child on this path).
    if ((sc.traceFlags & TraceFlags.SAMPLED) === 0 && isSpanContextValid(sc)) return p;
  }
  return tracer().startSpan(name, { kind, ...(attributes ? { attributes } : {}) }, parent);
}

/** The context carrying `span` under `parent` (`parent` itself when it already carries it). */
export function withSpan(parent: Context, span: Span): Context {
  return trace.getSpan(parent) === span ? parent : trace.setSpan(parent, span);
}

/** End `span` with an error status (the exception recorded). */
export function failSpan(span: Span, err: unknown): void {
  if (!span.isRecording()) return span.end();
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  span.end();
}

// One pattern checks the whole header (lower-case hex of the right lengths): it is parsed on
// every bus message that carries a trace, sampled or not.
const TP = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The traceparent of the span in `ctx`, or undefined when there is none (no SDK: none). */
export function traceparentOf(ctx: Context): string | undefined {
  const sc = trace.getSpanContext(ctx);
  if (sc === undefined || !isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

/** Parse a traceparent header; undefined when malformed (W3C: then start a new trace). */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (value === undefined) return undefined;
  const m = TP.exec(value.length === 55 ? value : value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags!, 16) & 0xff, isRemote: true };
}

/** Headers for a bus message carrying `ctx`'s span; undefined (no headers) when it has none. */
export function injectHeaders(ctx: Context, headers?: Record<string, string>): Record<string, string> | undefined {
  const tp = traceparentOf(ctx);
  if (tp === undefined) return headers;
  return { ...headers, [TRACEPARENT]: tp };
}

/** The remote parent carried by bus headers, as a context (ROOT_CONTEXT when absent). */
export function extractContext(headers: Readonly<Record<string, string>> | undefined): Context {
  const sc = parseTraceparent(headers?.[TRACEPARENT]);
  return sc === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, sc);
}

/** Trace and span ids of the span in `ctx`, for log lines (empty without a valid span). */
export function traceFields(ctx: Context): { traceId?: string; spanId?: string } {
  const sc = trace.getSpanContext(ctx);
  if (sc === undefined || !isSpanContextValid(sc)) return {};
  return { traceId: sc.traceId, spanId: sc.spanId };
}
