/**
 * How the services module answers a thrown failure: src/http's `sendFailure` (one code→status
 * table, `Retry-After` on 503), plus the two things only this module knows: an open cockatiel
 * breaker (the call policies) is 503 `SVC_BREAKER_OPEN`, and a failure that is not typed is 500
 * `SVC_UPSTREAM_FAILED` (the HttpModule contract of docs/services.md).
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { BrokenCircuitError, IsolatedCircuitError } from 'cockatiel';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { BodyLimit } from '../../http/body.js';
import { sendFailure } from '../../http/respond.js';

const INTERNAL = { code: ErrorCode.SvcUpstreamFailed, message: 'internal error in the services module' };

export function sendServiceFailure(res: ServerResponse, err: unknown, retryAfterS: number, headers: OutgoingHttpHeaders = {}): void {
  const failure = err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError ? new MeridianError(ErrorCode.SvcBreakerOpen, 'the circuit breaker of the chosen endpoint is open') : err;
  sendFailure(res, failure, { retryAfterS, headers, internal: INTERNAL });
}

/** A body limit of this module: past it, 413 `SVC_BODY_TOO_LARGE` with `details.limitBytes`. */
export const svcBodyLimit = (bytes: number): BodyLimit => ({ bytes, code: ErrorCode.SvcBodyTooLarge });
