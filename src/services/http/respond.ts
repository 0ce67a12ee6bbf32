/**
 * Answers of the services module: JSON bodies and typed errors `{ error: { code, message,
 * details? } }` (the HttpModule contract), and the one table that maps error codes to statuses,
 * so every endpoint answers the same failure with the same status.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { BrokenCircuitError, IsolatedCircuitError } from 'cockatiel';
import { ErrorCode, isMeridianError } from '../../errors/mod.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string, details?: Record<string, unknown>, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    // Too late for a status: cut the body so the client sees a failed transfer, not a short one.
    res.destroy();
    return;
  }
  const error = details && Object.keys(details).length > 0 ? { code, message, details } : { code, message };
  sendJson(res, status, { error }, headers);
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.SvcInvalidRegistration]: 400,
  [ErrorCode.SvcInvalidEvent]: 400,
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.SvcUnauthorized]: 401,
  [ErrorCode.SvcForbidden]: 403,
  [ErrorCode.ResidencyForbidden]: 403,
  [ErrorCode.SvcLoopDetected]: 508,
  [ErrorCode.SvcUnknownWorker]: 404,
  [ErrorCode.SvcUnknownService]: 404,
  [ErrorCode.SvcUnknownFunction]: 404,
  [ErrorCode.SvcNotFound]: 404,
  [ErrorCode.SvcBodyTooLarge]: 413,
  // An event too large for the bus (in-process workers are reached over it).
  [ErrorCode.BusPayloadTooLarge]: 413,
  [ErrorCode.SvcUpstreamFailed]: 502,
  [ErrorCode.SvcNoEndpoints]: 503,
  [ErrorCode.SvcOverloaded]: 503,
  [ErrorCode.SvcBreakerOpen]: 503,
  [ErrorCode.BusUnavailable]: 503,
  [ErrorCode.BusTimeout]: 503,
  [ErrorCode.BusNoResponders]: 502,
  [ErrorCode.SvcTimeout]: 504,
};

/** Statuses that say "come back later": they carry `Retry-After`. */
const LATER = new Set([503]);

/** Send any thrown value as a typed error; unknown errors are 500 without internals. */
export function sendFailure(res: ServerResponse, err: unknown, retryAfterS: number, headers: OutgoingHttpHeaders = {}): void {
  if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
    sendError(res, 503, ErrorCode.SvcBreakerOpen, 'the circuit breaker of the chosen endpoint is open', undefined, { ...headers, 'retry-after': String(retryAfterS) });
    return;
  }
  if (!isMeridianError(err)) {
    sendError(res, 500, ErrorCode.SvcUpstreamFailed, 'internal error in the services module', undefined, headers);
    return;
  }
  const status = STATUS[err.code] ?? 500;
  const extra = LATER.has(status) ? { 'retry-after': String(retryAfterS) } : {};
  sendError(res, status, err.code, err.message, err.details, { ...headers, ...extra });
}
