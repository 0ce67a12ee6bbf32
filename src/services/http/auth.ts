/**
 * The registration token: workers present it as `Authorization: Bearer <token>` on every
 * `/v1/workers` call. Compared in constant time so response timing does not leak it.
 */
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { bearer, SecretMatcher } from '../../http/bearer.js';

/** A fresh token for `meridian up` to print (`"workerToken"` in its --json line). */
export function generateWorkerToken(): string {
  return `mwt_${randomBytes(24).toString('base64url')}`;
}

export function checkBearer(req: IncomingMessage, token: string): void {
  const presented = bearer(req.headers.authorization);
  if (!new SecretMatcher(token).matches(presented)) {
    throw new MeridianError(ErrorCode.SvcUnauthorized, presented !== undefined ? 'invalid registration token' : 'missing registration token: send Authorization: Bearer <workerToken>');
  }
}
