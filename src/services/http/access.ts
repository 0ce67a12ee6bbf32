/**
 * Who may do what in the services module (docs/services.md, "Credentials"), as one table:
 *
 *   /v1/workers …                      the worker registration token (checked by the route)
 *   GET /v1/services, /v1/services/{s}, /v1/services/{s}/endpoints
 *   GET /v1/functions, /v1/functions/{f}
 *                                      operator (API key with `admin`): worker URLs, meta
 *   /v1/dlq …                          operator (API key with `dlq`): meta, payloads
 *   /v1/services/{s}/… (proxy)         a client token whose `services` claim matches s
 *   POST /v1/functions/{f}             a client token whose `functions` claim matches f
 *   GET /v1/invocations/{id}           the same, for the invocation's function
 *
 * API keys (src/keys) act by scope: the listings need `admin`, the DLQ `dlq`, the proxy, invoke
 * and invocations rows `services` (any name); a key lacking the scope is 403. The deprecated
 * admin token is a key with every scope. On a dev-mode node a caller without a credential may
 * use the client-facing rows (proxy, invoke, invocations), never the operator rows. A
 * credential that does not verify (an unknown, revoked or expired key too) is 401, never
 * treated as none.
 */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Scope } from '../../keys/scopes.js';
import type { Caller, CallKind } from '../../keys/caller.js';

/** An operator row names the API key scope it needs: `admin` (listings) unless said (`dlq`). */
export type Need = { readonly kind: 'worker' } | { readonly kind: 'admin'; readonly scope?: 'admin' | 'dlq' } | { readonly kind: 'call'; readonly what: CallKind; readonly name: string } | { readonly kind: 'client' };

const ADMIN_HINT = 'send Authorization: Bearer <API key> (an operator key with the right scope)';

/** The API key scope a row needs (`services` for calls and invocations). */
export function scopeOf(n: Exclude<Need, { kind: 'worker' }>): Scope {
  return n.kind === 'admin' ? (n.scope ?? 'admin') : 'services';
}

/** What a request needs, from its prefix, method and path parts (after the prefix). */
export function need(prefix: string, method: string, parts: readonly string[], decode: (s: string) => string): Need {
  const [first, ...rest] = parts;
  const named = first !== undefined && first !== '';
  switch (prefix) {
    case 'workers':
      return { kind: 'worker' };
    case 'services':
      if (!named) return { kind: 'admin' };
      if (method === 'GET' && (rest.length === 0 || (rest.length === 1 && rest[0] === 'endpoints'))) return { kind: 'admin' };
      return { kind: 'call', what: 'service', name: decode(first) };
    case 'functions':
      if (!named || method !== 'POST') return { kind: 'admin' };
      return { kind: 'call', what: 'function', name: decode(first) };
    case 'invocations':
      // Which function it belongs to is known only once found: the route checks `mayCall`.
      return { kind: 'client' };
    case 'dlq':
      return { kind: 'admin', scope: 'dlq' };
    default:
      return { kind: 'admin' };
  }
}

function unauthorized(message: string): MeridianError {
  return new MeridianError(ErrorCode.SvcUnauthorized, message);
}

function forbidden(message: string, details: Record<string, unknown>): MeridianError {
  return new MeridianError(ErrorCode.SvcForbidden, message, { details });
}

/** Throws SVC_UNAUTHORIZED (401) or SVC_FORBIDDEN (403) unless `caller` may do `n`. */
export function authorize(caller: Caller, n: Need): void {
  if (n.kind === 'worker') return;
  if (caller.kind === 'invalid') throw unauthorized(`the credential was refused: ${caller.reason}`);
  if (caller.kind === 'admin') return;
  if (caller.kind === 'key') {
    const scope = scopeOf(n);
    if (!caller.scopes.has(scope)) throw forbidden(`API key ${caller.id} lacks the ${scope} scope`, { key: caller.id, scope });
    return;
  }
  if (n.kind === 'admin') {
    if (caller.kind === 'user') throw forbidden(`this endpoint is for operators: ${ADMIN_HINT}`, {});
    throw unauthorized(`this endpoint needs the operator credential: ${ADMIN_HINT}`);
  }
  if (caller.kind === 'dev') return;
  if (caller.kind === 'anonymous') throw unauthorized('this endpoint needs Authorization: Bearer <token> (a client JWT, or an API key with the services scope)');
  if (n.kind === 'call' && !caller.mayCall(n.what, n.name)) {
    const claim = n.what === 'service' ? 'services' : 'functions';
    throw forbidden(`the token's ${claim} claim does not allow ${n.what} ${JSON.stringify(n.name.slice(0, 64))}`, { [n.what]: n.name });
  }
}

/** For routes that learn the function late (invocations): may this caller see it? */
export function mayCall(caller: Caller, what: CallKind, name: string): boolean {
  if (caller.kind === 'admin' || caller.kind === 'dev') return true;
  if (caller.kind === 'key') return caller.scopes.has('services');
  return caller.kind === 'user' && caller.mayCall(what, name);
}
