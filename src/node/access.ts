/**
 * Who is calling the node over HTTP: the one place that reads `Authorization` for the node's
 * modules (services, functions, invocations, DLQ) and its operator endpoints. The credentials,
 * never interchangeable:
 * - an API key (`mrd_<id>_<secret>`, from the keys file, src/keys): what its scopes allow;
 * - the deprecated admin token (`--admin-token`): a key with every scope;
 * - a client token (JWT, the same as the WebSocket's `auth`): what its claims allow;
 * - no credential: `dev` on a dev-mode node (client-facing endpoints stay open), else `anonymous`.
 * The worker registration token is checked by the services module itself and grants only
 * `/v1/workers`. The admin token is compared in constant time (both sides hashed); a key is
 * found by its id and its digest compared in constant time. A key-shaped credential that is
 * unknown, revoked or expired is `invalid` (401), never tried as a JWT.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isMeridianError } from '../errors/mod.js';
import { bearer, SecretMatcher } from '../http/bearer.js';
import { clientAddress } from '../http/client-address.js';
import type { KeyRing } from '../keys/ring.js';
import type { Scope } from '../keys/scopes.js';
import type { Caller } from '../keys/caller.js';
import type { RequestInfo } from '../module/http-module.js';
import type { Authenticator } from './auth.js';

/** An operator credential as established: the admin token, an API key, or a refused key. */
export type Operator = Extract<Caller, { kind: 'admin' } | { kind: 'key' }> | { readonly kind: 'invalid'; readonly reason: string; readonly keyId: string; readonly expired: boolean };

/** Whether `caller` holds `scope` (the admin token holds every scope; users, dev and anonymous none). */
export function hasScope(caller: Caller, scope: Scope): boolean {
  return caller.kind === 'admin' || (caller.kind === 'key' && caller.scopes.has(scope));
}

/** The audit actor of an operator caller: kind admin, and the key id for API keys (never the key). */
export function operatorActor(caller: Caller): { kind: 'admin'; id?: string } {
  return caller.kind === 'key' ? { kind: 'admin', id: caller.id } : { kind: 'admin' };
}

export class AccessControl {
  readonly #admin: SecretMatcher | undefined;

  constructor(
    readonly auth: Authenticator,
    adminToken: string | undefined,
    readonly keys?: KeyRing,
  ) {
    this.#admin = adminToken === undefined || adminToken === '' ? undefined : new SecretMatcher(adminToken);
  }

  /** True when this bearer value is the (deprecated) admin token. */
  isAdmin(token: string): boolean {
    return this.#admin?.matches(token) === true;
  }

  /** The bearer value as an operator credential; undefined when it is none (try it as a JWT). */
  operator(token: string): Operator | undefined {
    if (this.isAdmin(token)) return { kind: 'admin' };
    const k = this.keys?.check(token);
    if (k === undefined) return undefined;
    if (k.ok) return { kind: 'key', id: k.id, scopes: k.scopes };
    return { kind: 'invalid', reason: k.reason === 'expired' ? `API key ${k.id} has expired` : `API key ${k.id} is not known (revoked, or never issued)`, keyId: k.id, expired: k.reason === 'expired' };
  }

  async caller(req: IncomingMessage): Promise<Caller> {
    const token = bearer(req.headers.authorization);
    if (token === undefined) {
      if (req.headers.authorization !== undefined) return { kind: 'invalid', reason: 'Authorization must be "Bearer <token>"' };
      return this.auth.dev ? { kind: 'dev' } : { kind: 'anonymous' };
    }
    const op = this.operator(token);
    if (op !== undefined) return op.kind === 'invalid' ? { kind: 'invalid', reason: op.reason, keyId: op.keyId } : op;
    try {
      const id = await this.auth.verify(token);
      return { kind: 'user', user: id.user, mayCall: id.canCall };
    } catch (err) {
      return { kind: 'invalid', reason: isMeridianError(err) ? err.message : 'authentication failed' };
    }
  }

  /**
   * The key HTTP rate limits count under: the credential presented (hashed: never kept in
   * clear) and the client address (behind trusted proxies, X-Forwarded-For's: server.ts
   * resolves it), so one worker fleet sharing a token is not one bucket.
   */
  rateKey(req: IncomingMessage): string {
    const h = req.headers.authorization;
    const who = h === undefined ? '-' : createHash('sha256').update(h).digest('base64url').slice(0, 16);
    return `${who}|${clientAddress(req)}`;
  }

  /** The per-request view modules get: verified once, on first use. */
  request(req: IncomingMessage): RequestInfo {
    let p: Promise<Caller> | undefined;
    return { caller: () => (p ??= this.caller(req)) };
  }
}
