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
 *
 * Per request the credential is hashed once (SHA-256), for the rate limit's key, the admin token
 * and the API key comparison alike. A verified client JWT is remembered by that hash for up to
 * `JWT_CACHE_MS` and never past its `exp` (bounded to `JWT_CACHE_MAX` tokens), so a client
 * sending the same token on every request is verified about once a minute, not each time; API
 * keys are not cached (their check is the hash compare, and a revoked key must fail at once).
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import { bearer, SecretMatcher } from '../http/bearer.js';
import { clientAddress } from '../http/client-address.js';
import { sha256 } from '../keys/key.js';
import type { KeyRing } from '../keys/ring.js';
import type { Scope } from '../keys/scopes.js';
import type { Caller } from '../keys/caller.js';
import type { RequestInfo } from '../module/http-module.js';
import type { Authenticator, Identity } from './auth.js';

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

/** How long a verified client JWT is remembered (never past its `exp`). */
export const JWT_CACHE_MS = 60_000;
/** Most verified JWTs remembered; past it the oldest is forgotten. */
export const JWT_CACHE_MAX = 10_000;

/** A request's bearer credential and its SHA-256, computed once per request (null: none). */
interface Credential {
  readonly token: string;
  /** SHA-256, base64url. */
  readonly digest: string;
}
const CREDENTIAL = Symbol('meridian.credential');
type WithCredential = IncomingMessage & { [CREDENTIAL]?: Credential | null };

interface Remembered {
  readonly identity: Identity;
  /** Epoch ms: the earlier of when it was verified + JWT_CACHE_MS and the token's expiry. */
  readonly until: number;
}

export class AccessControl {
  readonly #admin: SecretMatcher | undefined;
  /** Verified JWTs by their SHA-256 (base64url; never the token itself). */
  readonly #jwts = new Map<string, Remembered>();
  readonly #clock: () => number;

  constructor(
    readonly auth: Authenticator,
    adminToken: string | undefined,
    readonly keys?: KeyRing,
    opts: { readonly clock?: () => number } = {},
  ) {
    this.#admin = adminToken === undefined || adminToken === '' ? undefined : new SecretMatcher(adminToken);
    this.#clock = opts.clock ?? Date.now;
  }

  #operator(token: string, digest: string): Operator | undefined {
    if (this.#admin !== undefined && this.#admin.matchesDigest(Buffer.from(digest, 'base64url'))) return { kind: 'admin' };
    const k = this.keys?.check(token, digest);
    if (k === undefined) return undefined;
    if (k.ok) return { kind: 'key', id: k.id, scopes: k.scopes };
    return { kind: 'invalid', reason: k.reason === 'expired' ? `API key ${k.id} has expired` : `API key ${k.id} is not known (revoked, or never issued)`, keyId: k.id, expired: k.reason === 'expired' };
  }

  /** The request's bearer as an operator credential (hashed once per request); undefined: none, or not one. */
  operatorOf(req: IncomingMessage): Operator | undefined {
    const c = credential(req);
    return c === null ? undefined : this.#operator(c.token, c.digest);
  }

  /**
   * The request's bearer verified as a client JWT, remembered by its hash for JWT_CACHE_MS (never
   * past its expiry); throws the authenticator's typed error when it is not a valid token.
   */
  async verify(req: IncomingMessage): Promise<Identity> {
    const c = credential(req);
    if (c === null) throw new MeridianError(ErrorCode.AuthFailed, 'no bearer token');
    const now = this.#clock();
    const seen = this.#jwts.get(c.digest);
    if (seen !== undefined) {
      if (now < seen.until) return seen.identity;
      this.#jwts.delete(c.digest);
    }
    const identity = await this.auth.verify(c.token);
    const until = Math.min(this.#clock() + JWT_CACHE_MS, identity.expiresAt ?? 0);
    if (until > this.#clock()) {
      // Map order is insertion order: the first entry is the oldest.
      if (this.#jwts.size >= JWT_CACHE_MAX) this.#jwts.delete(this.#jwts.keys().next().value!);
      this.#jwts.set(c.digest, { identity, until });
    }
    return identity;
  }

  async caller(req: IncomingMessage): Promise<Caller> {
    if (credential(req) === null) {
      if (req.headers.authorization !== undefined) return { kind: 'invalid', reason: 'Authorization must be "Bearer <token>"' };
      return this.auth.dev ? { kind: 'dev' } : { kind: 'anonymous' };
    }
    const op = this.operatorOf(req);
    if (op !== undefined) return op.kind === 'invalid' ? { kind: 'invalid', reason: op.reason, keyId: op.keyId } : op;
    try {
      const who = await this.verify(req);
      return { kind: 'user', user: who.user, mayCall: who.canCall };
    } catch (err) {
      return { kind: 'invalid', reason: isMeridianError(err) ? err.message : 'authentication failed' };
    }
  }

  /** Verified JWTs remembered now (tests). */
  get rememberedTokens(): number {
    return this.#jwts.size;
  }

  /**
   * The key HTTP rate limits count under: the credential presented (hashed: never kept in
   * clear) and the client address (behind trusted proxies, X-Forwarded-For's: server.ts
   * resolves it), so one worker fleet sharing a token is not one bucket.
   */
  rateKey(req: IncomingMessage): string {
    const h = req.headers.authorization;
    if (h === undefined) return `-|${clientAddress(req)}`;
    const c = credential(req);
    // The bearer's hash, shared with the credential check; a malformed header's own hash.
    const who = (c === null ? sha256(h) : c.digest).slice(0, 16);
    return `${who}|${clientAddress(req)}`;
  }

  /** The per-request view modules get: verified once, on first use. */
  request(req: IncomingMessage): RequestInfo {
    let p: Promise<Caller> | undefined;
    return { caller: () => (p ??= this.caller(req)) };
  }
}

/** The request's bearer token and its SHA-256, read and hashed on first use; null when none. */
function credential(req: IncomingMessage): Credential | null {
  const r = req as WithCredential;
  let c = r[CREDENTIAL];
  if (c === undefined) {
    const token = bearer(req.headers.authorization);
    c = token === undefined ? null : { token, digest: sha256(token) };
    r[CREDENTIAL] = c;
  }
  return c;
}
