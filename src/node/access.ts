/**
 * Who is calling the node over HTTP: the one place that reads `Authorization` for the node's
 * modules (services, functions, invocations, DLQ). Three credentials, never interchangeable:
 * - the operator credential (admin token): every endpoint, including listing workers and the DLQ;
 * - a client token (JWT, the same as the WebSocket's `auth`): what its claims allow;
 * - no credential: `dev` on a dev-mode node (client-facing endpoints stay open), else `anonymous`.
 * The worker registration token is checked by the services module itself and grants only
 * `/v1/workers`. The admin token is compared in constant time (both sides hashed).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isMeridianError } from '../errors/mod.js';
import { bearer, SecretMatcher } from '../http/bearer.js';
import type { Caller, RequestInfo } from '../runtime/http-module.js';
import type { Authenticator } from './auth.js';

export class AccessControl {
  readonly #admin: SecretMatcher | undefined;

  constructor(
    readonly auth: Authenticator,
    adminToken: string | undefined,
  ) {
    this.#admin = adminToken === undefined || adminToken === '' ? undefined : new SecretMatcher(adminToken);
  }

  /** True when this bearer value is the operator credential. */
  isAdmin(token: string): boolean {
    return this.#admin?.matches(token) === true;
  }

  async caller(req: IncomingMessage): Promise<Caller> {
    const token = bearer(req.headers.authorization);
    if (token === undefined) {
      if (req.headers.authorization !== undefined) return { kind: 'invalid', reason: 'Authorization must be "Bearer <token>"' };
      return this.auth.dev ? { kind: 'dev' } : { kind: 'anonymous' };
    }
    if (this.isAdmin(token)) return { kind: 'admin' };
    try {
      const id = await this.auth.verify(token);
      return { kind: 'user', user: id.user, mayCall: id.canCall };
    } catch (err) {
      return { kind: 'invalid', reason: isMeridianError(err) ? err.message : 'authentication failed' };
    }
  }

  /**
   * The key HTTP rate limits count under: the credential presented (hashed: never kept in
   * clear) and the client address, so one worker fleet sharing a token is not one bucket.
   */
  rateKey(req: IncomingMessage): string {
    const h = req.headers.authorization;
    const who = h === undefined ? '-' : createHash('sha256').update(h).digest('base64url').slice(0, 16);
    return `${who}|${req.socket.remoteAddress ?? ''}`;
  }

  /** The per-request view modules get: verified once, on first use. */
  request(req: IncomingMessage): RequestInfo {
    let p: Promise<Caller> | undefined;
    return { caller: () => (p ??= this.caller(req)) };
  }
}
