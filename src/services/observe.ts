/**
 * The service mesh, observed: every service call and function invocation made from a node gets
 * a span (`meridian.service.call` / `meridian.function.invoke`) and is counted by outcome with
 * its duration; the callers' policy state (retries, retry budget, breakers) and the DLQ depth are
 * read at scrape time from the module's own snapshots, so nothing is added to the call path but
 * the span and one counter.
 *
 * Here rather than in src/observability: it reads the services module's types, and observability
 * (metrics, tracing, logs) is used by every layer below services, so from there it made the
 * folders import each other.
 */
import { ErrorCode, isMeridianError } from '../errors/mod.js';
import type { CallObserver } from './policy/caller.js';
import type { ServicesModule } from './http/module.js';
import type { CallKind, CallOutcome, NodeMetrics } from '../observability/metrics.js';
import { SpanKind, activeContext, startSpan } from '../observability/tracing.js';
import { SpanStatusCode } from '@opentelemetry/api';

/** The outcome label of a finished call. */
export function callOutcome(result: { status: number } | { error: unknown }): CallOutcome {
  if ('status' in result) return result.status >= 500 ? 'server_error' : result.status >= 400 ? 'client_error' : 'ok';
  const e = result.error;
  if (isMeridianError(e)) {
    if (e.code === ErrorCode.SvcTimeout) return 'timeout';
    if (e.code === ErrorCode.SvcNoEndpoints) return 'no_endpoints';
    if (e.code === ErrorCode.SvcOverloaded) return 'overloaded';
  }
  return 'error';
}

export function callObserver(metrics: NodeMetrics, kind: CallKind): CallObserver {
  const name = kind === 'service' ? 'meridian.service.call' : 'meridian.function.invoke';
  return {
    start(service) {
      const span = startSpan(name, SpanKind.CLIENT, activeContext(), { 'meridian.region': metrics.region, [kind === 'service' ? 'meridian.service' : 'meridian.function']: service });
      const t0 = performance.now();
      return (result) => {
        const outcome = callOutcome(result);
        metrics.serviceCall(kind, service, outcome, (performance.now() - t0) / 1000);
        if (span.isRecording()) {
          span.setAttribute('meridian.outcome', outcome);
          if ('status' in result) span.setAttribute('http.response.status_code', result.status);
          if (outcome !== 'ok' && outcome !== 'client_error') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
          if ('error' in result && result.error instanceof Error) span.recordException(result.error);
        }
        span.end();
      };
    },
  };
}

/** Letters counted for the DLQ depth gauge at most (a scrape must stay cheap). */
const DLQ_SCAN_MAX = 10_000;

/** Export a services module's calls, policy state and DLQ depth on the node's metrics. */
export function observeServices(metrics: NodeMetrics, m: ServicesModule): void {
  m.services.observer = callObserver(metrics, 'service');
  m.functions.caller.observer = callObserver(metrics, 'function');
  metrics.addCaller({ kind: 'service', snapshot: () => m.services.snapshot() });
  metrics.addCaller({ kind: 'function', snapshot: () => m.functions.caller.snapshot() });
  metrics.setDlqDepth(async () => {
    let n = 0;
    let after: string | undefined;
    for (let scanned = 0; scanned < DLQ_SCAN_MAX; ) {
      const page = await m.dlq.list({ limit: 1000, ...(after === undefined ? {} : { after }) });
      for (const l of page) if (l.state === 'dead') n++;
      scanned += page.length;
      if (page.length < 1000) break;
      after = page[page.length - 1]!.id;
    }
    return n;
  });
}
