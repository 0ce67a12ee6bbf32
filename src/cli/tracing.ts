/** `--otlp URL` of up, region and edge: spans to a collector (src/observability/otlp.ts), or nothing. */
import { otlpEndpoint, startOtlpTracing } from '../observability/otlp.js';
import type { OtlpTracing } from '../observability/otlp.js';
import { UsageError } from './command.js';

export const OTLP_HELP = `  --otlp URL       send traces to an OpenTelemetry collector (OTLP/HTTP, e.g. http://127.0.0.1:4318);
                   default: env OTEL_EXPORTER_OTLP_ENDPOINT, else no tracing`;

/** Start exporting when a collector is named; a bad URL is a usage error of `command`. */
export function startTracing(command: string, flag: string | undefined): OtlpTracing | undefined {
  const url = otlpEndpoint(flag);
  if (url === undefined) return undefined;
  try {
    return startOtlpTracing(url);
  } catch (err) {
    throw new UsageError(`meridian ${command}: ${(err as Error).message}`);
  }
}
