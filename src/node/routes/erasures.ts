/**
 * Erasure over HTTP (src/erasure, docs/residency.md "Erasure"):
 *
 *   POST /v1/erasures        { "user": "<id>" } or { "conversation": "<id>" }  → 202 { id, status, … }
 *   GET  /v1/erasures/{id}   per-region status; `complete` and the signed `receipt` once every region confirmed
 *   GET  /v1/erasures/keys   the regions' public keys as a JWKS (public: they verify receipts)
 *
 * The first two need an API key with the `erase` scope (or the deprecated admin token): no or
 * an unverified credential is 401, any other credential (a key without `erase`, a client token)
 * 403. Requests and refusals go to the region's audit trail (the erasure id and the subject's
 * kind, never message bodies).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/mod.js';
import { ERASURE_ID } from '../erasure/mod.js';
import type { ErasureService, ErasureSubject } from '../erasure/mod.js';
import { ErrorCode, isMeridianError } from '../errors/mod.js';
import { readBodyOrRefuse } from '../http/body.js';
import { parseJsonBounded } from '../http/json.js';
import { checkId, parseConversation, roomConversation } from '../protocol/mod.js';
import { hasScope, operatorActor } from './access.js';
import type { AccessControl } from './access.js';
import { sendError, sendJson } from '../http/respond.js';
import { clientAddress } from '../http/client-address.js';

const MAX_BODY = 4096;
const BY_ID = /^\/v1\/erasures\/([^/]+)$/;

export interface ErasureRouteContext {
  readonly access: AccessControl;
  readonly audit: AuditLog | undefined;
  readonly erasure: ErasureService | undefined;
  readonly maxIdLength: number;
}

/** Serve /v1/erasures…; false when the path is not one of them. */
export async function handleErasures(c: ErasureRouteContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  if (path !== '/v1/erasures' && !path.startsWith('/v1/erasures/')) return false;
  const method = req.method ?? 'GET';
  const erasure = c.erasure;
  if (erasure === undefined) {
    req.resume();
    sendError(res, 501, ErrorCode.NotSupported, 'this node runs no erasure service');
    return true;
  }
  if (path === '/v1/erasures/keys') {
    if (method !== 'GET' && method !== 'HEAD') {
      req.resume();
      sendError(res, 405, ErrorCode.MethodNotAllowed, `${path} takes GET`, undefined, { allow: 'GET' });
    } else sendJson(res, 200, await erasure.jwks());
    return true;
  }
  const m = BY_ID.exec(path);
  if (path === '/v1/erasures' ? method !== 'POST' : m === null || (method !== 'GET' && method !== 'HEAD')) {
    req.resume();
    if (path !== '/v1/erasures' && m === null) sendError(res, 404, ErrorCode.NotFound, 'no such endpoint');
    else sendError(res, 405, ErrorCode.MethodNotAllowed, `${path} takes ${path === '/v1/erasures' ? 'POST' : 'GET'}`, undefined, { allow: path === '/v1/erasures' ? 'POST' : 'GET' });
    return true;
  }
  const action = path === '/v1/erasures' ? 'erasure.request' : 'erasure.read';
  const caller = await c.access.caller(req);
  if (!hasScope(caller, 'erase')) {
    req.resume();
    const known = caller.kind === 'key' || caller.kind === 'user' || caller.kind === 'admin';
    const actor = caller.kind === 'key' ? operatorActor(caller) : caller.kind === 'user' ? { kind: 'user' as const, id: caller.user } : { kind: 'anonymous' as const };
    c.audit?.record({ actor, action, from: clientAddress(req), outcome: 'refused', status: known ? 403 : 401 });
    if (known) sendError(res, 403, ErrorCode.Forbidden, caller.kind === 'key' ? `API key ${caller.id} lacks the erase scope` : 'erasure is for operators (an API key with the erase scope)');
    else sendError(res, 401, ErrorCode.AuthFailed, `erasure needs Authorization: Bearer <API key with the erase scope>${caller.kind === 'invalid' ? `: ${caller.reason}` : ''}`, undefined, { 'www-authenticate': 'Bearer' });
    return true;
  }
  const actor = operatorActor(caller);
  if (m !== null) {
    // Malformed percent-encoding is a bad id (400), not a URIError (500): found by the fuzz suite.
    let id = '';
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      // stays '': refused below
    }
    if (!ERASURE_ID.test(id)) sendError(res, 400, ErrorCode.InvalidField, 'id: not an erasure id (er_…)');
    else {
      const status = await erasure.status(id);
      if (status === null) sendError(res, 404, ErrorCode.NotFound, `no erasure ${id}`);
      else sendJson(res, 200, status);
    }
    return true;
  }
  const subject = await readSubject(req, res, c.maxIdLength);
  if (subject === undefined) return true;
  try {
    const r = await erasure.request(subject);
    c.audit?.record({ actor, action, target: `${r.id} ${'user' in subject ? 'user' : 'conversation'}`, from: clientAddress(req), outcome: 'ok', status: 202 });
    sendJson(res, 202, { id: r.id, subject: r.subject, requestedAt: r.requestedAt, requestedIn: r.requestedIn, status: `/v1/erasures/${r.id}` }, { location: `/v1/erasures/${r.id}` });
  } catch (err) {
    c.audit?.record({ actor, action, from: clientAddress(req), outcome: 'failed', status: 503 });
    if (isMeridianError(err)) sendError(res, 503, ErrorCode.Unavailable, err.message, undefined, { 'retry-after': '1' });
    else throw err;
  }
  return true;
}

/**
 * The body's subject, or undefined after answering 400/413. An oversize body is drained, never
 * destroyed with its socket (a keep-alive client's next request was reset: found by the fuzz
 * suite); src/http/body.ts says how.
 */
async function readSubject(req: IncomingMessage, res: ServerResponse, maxIdLength: number): Promise<ErasureSubject | undefined> {
  const raw = await readBodyOrRefuse(req, res, { bytes: MAX_BODY, code: ErrorCode.FrameTooLarge, message: `the body exceeds ${MAX_BODY} bytes` });
  if (raw === undefined) return undefined;
  const json = parseJsonBounded(raw.toString('utf8'), 2);
  const v = json.ok ? json.value : undefined;
  if (!json.ok || typeof v !== 'object' || v === null || Array.isArray(v)) {
    sendError(res, 400, ErrorCode.BadFrame, 'the body must be a JSON object: {"user": "<id>"} or {"conversation": "<id>"}');
    return undefined;
  }
  const body = v as Record<string, unknown>;
  const extra = Object.keys(body).filter((k) => k !== 'user' && k !== 'conversation');
  if (extra.length > 0 || ('user' in body) === ('conversation' in body)) {
    sendError(res, 400, ErrorCode.InvalidField, extra.length > 0 ? `${extra[0]!.slice(0, 40)}: unknown field` : 'name exactly one of user or conversation');
    return undefined;
  }
  if ('user' in body) {
    const ok = checkId(body['user'], maxIdLength);
    if (!ok.ok) {
      sendError(res, 400, ErrorCode.InvalidField, `user: ${ok.reason}`);
      return undefined;
    }
    return { user: body['user'] as string };
  }
  const conv = parseConversation(body['conversation'], maxIdLength);
  if (conv === undefined) {
    sendError(res, 400, ErrorCode.InvalidField, 'conversation: must be a canonical conversation id (dm:<a>:<b> or room:<id>)');
    return undefined;
  }
  return { conversation: conv.kind === 'room' ? roomConversation(conv.room) : (body['conversation'] as string) };
}
