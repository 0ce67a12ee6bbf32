/**
 * The gate of the operator endpoints (drain, the audit trail, erasure): the caller must hold an
 * API key with the scope (or the deprecated admin token). A credential that verified but lacks
 * it (a key of other scopes, a client token) is 403; none, or one that did not verify, 401. Every
 * refusal goes to the region's audit trail, by key id or user, never the credential itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import { clientAddress } from '../../http/client-address.js';
import { sendError } from '../../http/respond.js';
import type { Caller } from '../../keys/caller.js';
import type { Scope } from '../../keys/scopes.js';
import { hasScope, operatorActor } from '../access.js';
import type { RouteContext } from './route.js';

export interface Gate {
  readonly scope: Scope;
  /** The audit action of the request, refused or not. */
  readonly action: string;
  /** What is asked for, in the refusal: `draining`, `the audit trail`, `erasure`. */
  readonly what: string;
}

/** The operator caller when it holds the gate's scope; undefined after answering 401/403. */
export async function requireScope(c: RouteContext, req: IncomingMessage, res: ServerResponse, gate: Gate): Promise<Caller | undefined> {
  const caller = await c.access.caller(req);
  if (hasScope(caller, gate.scope)) return caller;
  req.resume();
  const known = caller.kind === 'key' || caller.kind === 'user';
  const actor = caller.kind === 'key' ? operatorActor(caller) : caller.kind === 'user' ? { kind: 'user' as const, id: caller.user } : { kind: 'anonymous' as const };
  c.node.audit?.record({ actor, action: gate.action, from: clientAddress(req), outcome: 'refused', status: known ? 403 : 401 });
  if (known) sendError(res, 403, ErrorCode.Forbidden, caller.kind === 'key' ? `API key ${caller.id} lacks the ${gate.scope} scope` : `${gate.what} is for operators (an API key with the ${gate.scope} scope)`);
  else sendError(res, 401, ErrorCode.AuthFailed, `${gate.what} needs Authorization: Bearer <API key with the ${gate.scope} scope>${caller.kind === 'invalid' ? `: ${caller.reason}` : ''}`, undefined, { 'www-authenticate': 'Bearer' });
  return undefined;
}
