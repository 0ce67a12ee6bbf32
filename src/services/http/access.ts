/**
 * Who may do what in the services module (docs/services.md, "Credentials"), as one table:
 *
 *   /v1/workers …                      the worker registration token (checked by the route)
 *   GET /v1/services, /v1/services/{s}, /v1/services/{s}/endpoints
 *   GET /v1/functions, /v1/functions/{f}
 *   /v1/dlq …                          operator (admin token): worker URLs, meta, payloads
 *   /v1/services/{s}/… (proxy)         a client token whose `services` claim matches s
 *   POST /v1/functions/{f}             a client token whose `functions` claim matches f
 *   GET /v1/invocations/{id}           the same, for the invocation's function
 *
 * The admin token may do everything; on a dev-mode node a caller without a credential may use the
 * client-facing rows (proxy, invoke, invocations), never the operator rows. A credential that
 * does not verify is 401, never treated as none.
 */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Caller, CallKind } from '../../runtime/http-module.js';

export type Need = { readonly kind: 'worker' } | { readonly kind: 'admin' } | { readonly kind: 'call'; readonly what: CallKind; readonly name: string } | { readonly kind: 'client' };

const ADMIN_HINT = 'send Authorization: Bearer <adminToken> (the operator credential)';

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
  if (n.kind === 'admin') {
    if (caller.kind === 'user') throw forbidden(`this endpoint is for operators: ${ADMIN_HINT}`, {});
    throw unauthorized(`this endpoint needs the operator credential: ${ADMIN_HINT}`);
  }
  if (caller.kind === 'dev') return;
  if (caller.kind === 'anonymous') throw unauthorized('this endpoint needs Authorization: Bearer <token> (a client JWT, or the admin token)');
  if (n.kind === 'call' && !caller.mayCall(n.what, n.name)) {
    const claim = n.what === 'service' ? 'services' : 'functions';
    throw forbidden(`the token's ${claim} claim does not allow ${n.what} ${JSON.stringify(n.name.slice(0, 64))}`, { [n.what]: n.name });
  }
}

/** For routes that learn the function late (invocations): may this caller see it? */
export function mayCall(caller: Caller, what: CallKind, name: string): boolean {
  if (caller.kind === 'admin' || caller.kind === 'dev') return true;
  return caller.kind === 'user' && caller.mayCall(what, name);
}
