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
import { ERASURE_ID } from '../../erasure/mod.js';
import type { ErasureSubject } from '../../erasure/mod.js';
import { ErrorCode, isMeridianError } from '../../errors/mod.js';
import { readBodyOrRefuse } from '../../http/body.js';
import { clientAddress } from '../../http/client-address.js';
import { parseJsonBounded } from '../../http/json.js';
import { sendError, sendJson } from '../../http/respond.js';
import { checkId, parseConversation, roomConversation } from '../../protocol/mod.js';
import { operatorActor } from '../access.js';
import { requireScope } from './operator.js';
import type { Route } from './route.js';

const MAX_BODY = 4096;
const BY_ID = /^\/v1\/erasures\/([^/]+)$/;

/**
 * Every path under /v1/erasures, methods checked here: on a node without an erasure service
 * each is 501, before any 404 or 405.
 */
export const erasures: Route = {
  path: /^\/v1\/erasures(?:\/[^]*)?$/,
  async handle(c, { req, res, url }) {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const erasure = c.erasure;
    if (erasure === undefined) {
      req.resume();
      return sendError(res, 501, ErrorCode.NotSupported, 'this node runs no erasure service');
    }
    if (path === '/v1/erasures/keys') {
      if (method === 'GET' || method === 'HEAD') return sendJson(res, 200, await erasure.jwks());
      req.resume();
      return sendError(res, 405, ErrorCode.MethodNotAllowed, `${path} takes GET`, undefined, { allow: 'GET' });
    }
    const m = BY_ID.exec(path);
    if (path === '/v1/erasures' ? method !== 'POST' : m === null || (method !== 'GET' && method !== 'HEAD')) {
      req.resume();
      if (path !== '/v1/erasures' && m === null) return sendError(res, 404, ErrorCode.NotFound, 'no such endpoint');
      const allow = path === '/v1/erasures' ? 'POST' : 'GET';
      return sendError(res, 405, ErrorCode.MethodNotAllowed, `${path} takes ${allow}`, undefined, { allow });
    }
    const action = path === '/v1/erasures' ? 'erasure.request' : 'erasure.read';
    const caller = await requireScope(c, req, res, { scope: 'erase', action, what: 'erasure' });
    if (caller === undefined) return;
    const actor = operatorActor(caller);
    if (m !== null) {
      // Malformed percent-encoding is a bad id (400), not a URIError (500): found by the fuzz suite.
      let id = '';
      try {
        id = decodeURIComponent(m[1]!);
      } catch {
        // stays '': refused below
      }
      if (!ERASURE_ID.test(id)) return sendError(res, 400, ErrorCode.InvalidField, 'id: not an erasure id (er_…)');
      const status = await erasure.status(id);
      return status === null ? sendError(res, 404, ErrorCode.NotFound, `no erasure ${id}`) : sendJson(res, 200, status);
    }
    const subject = await readSubject(req, res, c.node.opts.limits.maxIdLength);
    if (subject === undefined) return;
    try {
      const r = await erasure.request(subject);
      c.node.audit?.record({ actor, action, target: `${r.id} ${'user' in subject ? 'user' : 'conversation'}`, from: clientAddress(req), outcome: 'ok', status: 202 });
      sendJson(res, 202, { id: r.id, subject: r.subject, requestedAt: r.requestedAt, requestedIn: r.requestedIn, status: `/v1/erasures/${r.id}` }, { location: `/v1/erasures/${r.id}` });
    } catch (err) {
      c.node.audit?.record({ actor, action, from: clientAddress(req), outcome: 'failed', status: 503 });
      if (isMeridianError(err)) sendError(res, 503, ErrorCode.Unavailable, err.message, undefined, { 'retry-after': '1' });
      else throw err;
    }
  },
};

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
