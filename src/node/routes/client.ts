/**
 * What the client-facing endpoints (messages, presence, history) share: who asks, as an access
 * rule principal (../access-rules.ts, the same rules the WebSocket session applies), and their
 * error answers.
 *
 * Authentication: `Authorization: Bearer <JWT>` (the same tokens as `auth`), or in dev mode
 * nothing (`dev`: sends then name the sender in `from`). A server-side sender may instead present
 * an API key with the `send` scope (or the deprecated admin token) on POST /v1/messages
 * (`operator`). Other API keys, and keys on the presence and history endpoints, are 403 (a key
 * carries no user); an unknown, revoked or expired key is 401. Errors are `{ error: { code,
 * message } }` with the wire error names of docs/protocol.md (and `AUTH_FAILED`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, httpStatus, isMeridianError } from '../../errors/mod.js';
import { bearer } from '../../http/bearer.js';
import { clientAddress } from '../../http/client-address.js';
import { sendError } from '../../http/respond.js';
import type { Scope } from '../../keys/scopes.js';
import { wireErrorName } from '../../protocol/mod.js';
import { hasScope } from '../access.js';
import type { Identity } from '../auth.js';
import type { RouteContext } from './route.js';

/** A wire error name (an ErrorCode too) with the status the one table gives it. */
export function sendWireError(res: ServerResponse, code: ErrorCode, message: string): void {
  sendError(res, httpStatus(code), code, message);
}

/** A failure of messaging or presence: its wire error name (not src/http's sendFailure: the wire mapping, BUS_TIMEOUT → TIMEOUT…), or 500 (and logged) when it is a bug. */
export function sendWireFailure(c: RouteContext, res: ServerResponse, err: unknown): void {
  if (isMeridianError(err)) return sendWireError(res, wireErrorName(err.code), err.message);
  c.node.onInternalError(err, 'http');
  sendWireError(res, ErrorCode.InternalError, 'the server failed to handle this request');
}

/** A path segment decoded; undefined when its percent-encoding is malformed. */
export function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function refuse(c: RouteContext, req: IncomingMessage, res: ServerResponse, why: 'expired' | 'invalid' | 'missing', message: string, actorId?: string): undefined {
  c.node.metrics.authFailed(why, 'http');
  const actor = actorId === undefined ? { kind: 'anonymous' as const } : { kind: 'anonymous' as const, id: actorId };
  c.node.audit?.record({ actor, action: 'auth.refused', target: req.url?.split('?')[0]?.slice(0, 200) ?? '', from: clientAddress(req), outcome: 'refused', status: 401 });
  sendError(res, 401, ErrorCode.AuthFailed, message, undefined, { 'www-authenticate': 'Bearer' });
  return undefined;
}

/**
 * Who asks: a verified token's user, `dev` (no credential on a dev-mode node), `operator` (an
 * API key holding `scope`, or the admin token), or undefined after answering 401/403. Without
 * `scope`, API keys are refused (403).
 */
export async function principal(c: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<Identity | 'dev' | undefined>;
export async function principal(c: RouteContext, req: IncomingMessage, res: ServerResponse, scope: Scope): Promise<Identity | 'dev' | 'operator' | undefined>;
export async function principal(c: RouteContext, req: IncomingMessage, res: ServerResponse, scope?: Scope): Promise<Identity | 'dev' | 'operator' | undefined> {
  // Hashed once per request (shared with the rate limit's key); a verified token is remembered
  // (access.ts), as for the modules' callers.
  if (bearer(req.headers.authorization) !== undefined) {
    const op = c.access.operatorOf(req);
    if (op !== undefined) {
      if (op.kind === 'invalid') return refuse(c, req, res, op.expired ? 'expired' : 'invalid', op.reason, `key:${op.keyId}`);
      if (scope !== undefined && hasScope(op, scope)) return 'operator';
      const who = op.kind === 'key' ? `API key ${op.id}` : 'the admin token';
      sendError(res, 403, ErrorCode.Forbidden, scope === undefined ? `${who} carries no user: this endpoint takes a client token` : `${who} lacks the ${scope} scope`);
      return undefined;
    }
    try {
      return await c.access.verify(req);
    } catch (err) {
      const expired = isMeridianError(err) && err.code === ErrorCode.AuthExpired;
      return refuse(c, req, res, expired ? 'expired' : 'invalid', isMeridianError(err) ? err.message : 'authentication failed');
    }
  }
  if (c.node.auth.dev) return 'dev';
  return refuse(c, req, res, 'missing', 'this endpoint needs Authorization: Bearer <token>');
}
