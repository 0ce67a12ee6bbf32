/**
 * The registration token: workers present it as `Authorization: Bearer <token>` on every
 * `/v1/workers` call. Compared in constant time so response timing does not leak it.
 */
import type { IncomingMessage } from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, MeridianError } from '../../errors/mod.js';

/** A fresh token for `meridian up` to print (`"workerToken"` in its --json line). */
export function generateWorkerToken(): string {
  return `mwt_${randomBytes(24).toString('base64url')}`;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function checkBearer(req: IncomingMessage, token: string): void {
  const h = req.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m || !timingSafeEqual(digest(m[1]!), digest(token))) {
    throw new MeridianError(ErrorCode.SvcUnauthorized, m ? 'invalid registration token' : 'missing registration token: send Authorization: Bearer <workerToken>');
  }
}
