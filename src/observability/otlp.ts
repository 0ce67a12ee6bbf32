/**
 * Sending spans to an OpenTelemetry collector, only when asked (`--otlp URL` or the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT`): a tracer provider with a batching OTLP/HTTP (JSON) exporter is
 * registered as the global one, which the spans of src/observability/tracing.ts then use. Never
 * on by default: without it no SDK is registered and tracing costs nothing.
 */
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface OtlpTracing {
  /** Export what is buffered now. */
  flush(): Promise<void>;
  /** Flush and stop exporting; the global provider is removed. */
  shutdown(): Promise<void>;
}

/** The endpoint from the flag, else from OTEL_EXPORTER_OTLP_ENDPOINT; undefined: tracing stays off. */
export function otlpEndpoint(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = flag ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if (v === undefined || v.trim() === '') return undefined;
  // The standard variable names the collector's base URL; the traces path is appended (OTLP spec).
  const base = v.trim().replace(/\/+$/, '');
  return flag === undefined || !/\/v1\/traces$/.test(base) ? `${base}${/\/v1\/traces$/.test(base) ? '' : '/v1/traces'}` : base;
}

/** Register a global tracer provider exporting to `url` (…/v1/traces). */
export function startOtlpTracing(url: string): OtlpTracing {
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new TypeError(`--otlp must be an http(s) URL, not ${JSON.stringify(url)}`);
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 })] });
  trace.setGlobalTracerProvider(provider);
  return {
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
    },
  };
}
