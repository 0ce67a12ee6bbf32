/**
 * The node's HTTP API under /v1, for servers and tools (clients use the WebSocket):
 *
 *   GET  /v1/regions                                   topology + live state of each region
 *   POST /v1/messages                                  server-side send, answered like `ack`
 *   GET  /v1/presence/{user}                           a user's presence
 *   GET  /v1/rooms/{room}/presence                     a room's members
 *   GET  /v1/conversations/{id}/messages?after=&limit= history from the log
 *
 * Authentication: `Authorization: Bearer <JWT>` (the same tokens as `auth`), or in dev mode
 * nothing (sends then name the sender in `from`). A server-side sender may instead present an
 * API key with the `send` scope (or the deprecated admin token) on POST /v1/messages: it sends
 * as whichever user `from` names, to any user or room. Other API keys, and keys on the presence
 * and history endpoints, are 403 (a key carries no user); an unknown, revoked or expired key is
 * 401. /v1/regions is public. Errors are
 * `{ error: { code, message } }` with the wire error names of docs/protocol.md (and
 * `AUTH_FAILED`), status 400/401/403/404/405/413/503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, httpStatus, isMeridianError } from '../errors/mod.js';
import { readBodyOrRefuse } from '../http/body.js';
import { parseJsonBounded } from '../http/json.js';
import { sendError, sendJson } from '../http/respond.js';
import { checkId, parseClientFrame, parseConversation, dmPeer, tryDmConversation, roomConversation, wireErrorName } from '../protocol/mod.js';
import type { RequestErrorName } from '../protocol/mod.js';
import { bearer } from '../http/bearer.js';
import type { Scope } from '../keys/scopes.js';
import type { AccessControl } from './access.js';
import { hasScope } from './access.js';
import type { Identity } from './auth.js';
import type { NodeContext } from './context.js';
import type { NodeState, RegionView } from './regions.js';
import { clientAddress } from '../http/client-address.js';

export interface HttpApiContext {
  readonly ctx: NodeContext;
  readonly view: RegionView;
  readonly self: () => NodeState;
  /** The node's reading of operator credentials (API keys, the admin token). */
  readonly access: AccessControl;
}

/** A wire error name (an ErrorCode too) with the status the one table gives it. */
function sendWireError(res: ServerResponse, code: ErrorCode, message: string): void {
  sendError(res, httpStatus(code), code, message);
}

function sendFailure(api: HttpApiContext, res: ServerResponse, err: unknown): void {
  if (isMeridianError(err)) return sendWireError(res, wireErrorName(err.code), err.message);
  api.ctx.onInternalError(err, 'http');
  sendWireError(res, ErrorCode.InternalError, 'the server failed to handle this request');
}

/** The request body, at most `max` bytes; undefined (after answering 413) when larger. */
function readBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<Buffer | undefined> {
  return readBodyOrRefuse(req, res, { bytes: max, code: ErrorCode.FrameTooLarge, message: `the body exceeds ${max} bytes` });
}

/**
 * The caller: a verified token, dev (anyone), `operator` (an API key holding `scope`, or the
 * admin token), or undefined after answering 401/403. Without `scope`, API keys are refused (403).
 */
async function caller(api: HttpApiContext, req: IncomingMessage, res: ServerResponse): Promise<Identity | 'dev' | undefined>;
async function caller(api: HttpApiContext, req: IncomingMessage, res: ServerResponse, scope: Scope): Promise<Identity | 'dev' | 'operator' | undefined>;
async function caller(api: HttpApiContext, req: IncomingMessage, res: ServerResponse, scope?: Scope): Promise<Identity | 'dev' | 'operator' | undefined> {
  const token = bearer(req.headers.authorization);
  if (token !== undefined) {
    const op = api.access.operator(token);
    if (op !== undefined) {
      if (op.kind === 'invalid') {
        api.ctx.metrics.authFailed(op.expired ? 'expired' : 'invalid', 'http');
        api.ctx.audit?.record({ actor: { kind: 'anonymous', id: `key:${op.keyId}` }, action: 'auth.refused', target: req.url?.split('?')[0]?.slice(0, 200) ?? '', from: clientAddress(req), outcome: 'refused', status: 401 });
        sendError(res, 401, ErrorCode.AuthFailed, op.reason, undefined, { 'www-authenticate': 'Bearer' });
        return undefined;
      }
      if (scope !== undefined && hasScope(op, scope)) return 'operator';
      const who = op.kind === 'key' ? `API key ${op.id}` : 'the admin token';
      sendError(res, 403, ErrorCode.Forbidden, scope === undefined ? `${who} carries no user: this endpoint takes a client token` : `${who} lacks the ${scope} scope`);
      return undefined;
    }
    try {
      return await api.ctx.auth.verify(token);
    } catch (err) {
      api.ctx.metrics.authFailed(isMeridianError(err) && err.code === ErrorCode.AuthExpired ? 'expired' : 'invalid', 'http');
      api.ctx.audit?.record({ actor: { kind: 'anonymous' }, action: 'auth.refused', target: req.url?.split('?')[0]?.slice(0, 200) ?? '', from: clientAddress(req), outcome: 'refused', status: 401 });
      sendError(res, 401, ErrorCode.AuthFailed, isMeridianError(err) ? err.message : 'authentication failed', undefined, { 'www-authenticate': 'Bearer' });
      return undefined;
    }
  }
  if (api.ctx.auth.dev) return 'dev';
  api.ctx.metrics.authFailed('missing', 'http');
  api.ctx.audit?.record({ actor: { kind: 'anonymous' }, action: 'auth.refused', target: req.url?.split('?')[0]?.slice(0, 200) ?? '', from: clientAddress(req), outcome: 'refused', status: 401 });
  sendError(res, 401, ErrorCode.AuthFailed, 'this endpoint needs Authorization: Bearer <token>', undefined, { 'www-authenticate': 'Bearer' });
  return undefined;
}

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

const PRESENCE_USER = /^\/v1\/presence\/([^/]+)$/;
const ROOM_PRESENCE = /^\/v1\/rooms\/([^/]+)\/presence$/;
const HISTORY = /^\/v1\/conversations\/([^/]+)\/messages$/;

/** Serve /v1 requests of the node; false when the path is not one of them. */
export async function handleApi(api: HttpApiContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const only = (m: string): boolean => {
    if (method === m || (m === 'GET' && method === 'HEAD')) return true;
    sendError(res, 405, ErrorCode.MethodNotAllowed, `${path} takes ${m}`, undefined, { allow: m });
    return false;
  };
  if (path === '/v1/regions') {
    if (only('GET')) await regions(api, res);
    return true;
  }
  if (path === '/v1/messages') {
    if (only('POST')) await postMessage(api, req, res);
    return true;
  }
  let m = PRESENCE_USER.exec(path);
  if (m) {
    if (only('GET')) await userPresence(api, req, res, m[1]!);
    return true;
  }
  m = ROOM_PRESENCE.exec(path);
  if (m) {
    if (only('GET')) await roomPresence(api, req, res, m[1]!);
    return true;
  }
  m = HISTORY.exec(path);
  if (m) {
    if (only('GET')) await history(api, req, res, m[1]!, url.searchParams);
    return true;
  }
  return false;
}

async function regions(api: HttpApiContext, res: ServerResponse): Promise<void> {
  const { opts } = api.ctx;
  const urls = opts.regionUrls;
  const rows = await Promise.all(
    opts.topology.regions.map(async (r) => {
      const self = r.name === opts.region;
      const state = self ? { reachable: true, rttMs: 0, nodes: [api.self()], checkedAt: Date.now() } : await api.view.state(r.name);
      return {
        name: r.name,
        city: r.location.city ?? null,
        location: { lat: r.location.lat, lon: r.location.lon },
        jurisdiction: r.jurisdiction,
        url: urls[r.name] ?? null,
        self,
        ...state,
      };
    }),
  );
  sendJson(res, 200, { region: opts.region, node: opts.node, regions: rows });
}

async function postMessage(api: HttpApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const who = await caller(api, req, res, 'send');
  if (who === undefined) return;
  const limits = api.ctx.opts.limits;
  const raw = await readBody(req, res, limits.maxFrameBytes);
  if (raw === undefined) return;
  // The envelope adds one level around the body (`{ "body": … }`).
  const json = parseJsonBounded(raw.toString('utf8'), limits.maxBodyDepth + 1);
  if (!json.ok) return json.reason === 'depth' ? sendError(res, 400, ErrorCode.InvalidField, `body: nested deeper than ${limits.maxBodyDepth} levels`) : sendWireError(res, ErrorCode.BadFrame, 'the body is not valid JSON');
  const value = json.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return sendWireError(res, ErrorCode.BadFrame, 'the body must be a JSON object');
  const { from, ...rest } = value as Record<string, unknown>;
  let sender: string;
  if (who === 'dev' || who === 'operator') {
    // Dev mode, or a server-side sender's API key (`send` scope): it sends as the user it names.
    const c = checkId(from, limits.maxIdLength);
    if (!c.ok) return sendError(res, 400, ErrorCode.InvalidField, `from: ${c.reason} (${who === 'dev' ? 'dev mode' : 'an API key'}: name the sender)`);
    sender = from as string;
  } else {
    if (from !== undefined && from !== who.user) return sendError(res, 403, ErrorCode.Forbidden, 'from: must be the token\'s user (or be left out)');
    sender = who.user;
  }
  // The same checks as a client's `send` frame, by the same parser.
  const parsed = parseClientFrame(JSON.stringify({ ...rest, type: 'send', id: 'http' }), limits);
  if (!parsed.ok) return sendWireError(res, parsed.error.name as RequestErrorName, parsed.error.message);
  const f = parsed.frame;
  if (f.type !== 'send') return sendWireError(res, ErrorCode.InternalError, 'unexpected frame');
  if (f.to.room !== undefined && who !== 'dev' && who !== 'operator' && !who.canJoin(f.to.room)) return sendWireError(res, ErrorCode.Forbidden, `to.room: no capability for room ${JSON.stringify(f.to.room.slice(0, 64))}`);
  if (f.to.user !== undefined) {
    const dm = tryDmConversation(sender, f.to.user, limits.maxIdLength);
    if (!dm.ok) return sendWireError(res, ErrorCode.InvalidField, `to.user: ${dm.reason}`);
  }
  try {
    const to = f.to.user !== undefined ? { user: f.to.user } : { room: f.to.room! };
    const r = await api.ctx.messaging.send({ from: sender, to, body: f.body, clientMsgId: f.clientMsgId });
    sendJson(res, r.duplicate ? 200 : 201, { messageId: r.messageId, conversation: r.conversation, seq: r.seq, timestamp: r.timestamp, duplicate: r.duplicate });
  } catch (err) {
    sendFailure(api, res, err);
  }
}

async function userPresence(api: HttpApiContext, req: IncomingMessage, res: ServerResponse, segment: string): Promise<void> {
  const user = decodeSegment(segment);
  const c = checkId(user, api.ctx.opts.limits.maxIdLength);
  if (user === undefined || !c.ok) return sendWireError(res, ErrorCode.InvalidField, `user: ${c.ok ? 'malformed' : c.reason}`);
  if ((await caller(api, req, res)) === undefined) return;
  try {
    sendJson(res, 200, await api.ctx.presence.user(user));
  } catch (err) {
    sendFailure(api, res, err);
  }
}

async function roomPresence(api: HttpApiContext, req: IncomingMessage, res: ServerResponse, segment: string): Promise<void> {
  const room = decodeSegment(segment);
  const c = checkId(room, api.ctx.opts.limits.maxIdLength);
  if (room === undefined || !c.ok) return sendWireError(res, ErrorCode.InvalidField, `room: ${c.ok ? 'malformed' : c.reason}`);
  const who = await caller(api, req, res);
  if (who === undefined) return;
  if (who !== 'dev' && !who.canJoin(room)) return sendWireError(res, ErrorCode.Forbidden, `no capability for room ${JSON.stringify(room.slice(0, 64))}`);
  try {
    sendJson(res, 200, await api.ctx.presence.room(room, { limit: api.ctx.opts.maxPresenceMembers }));
  } catch (err) {
    sendFailure(api, res, err);
  }
}

function intParam(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number | string {
  const v = q.get(name);
  if (v === null) return dflt;
  if (!/^\d{1,16}$/.test(v)) return `${name}: must be an integer`;
  const n = Number(v);
  if (n < min || n > max) return `${name}: must be between ${min} and ${max}`;
  return n;
}

async function history(api: HttpApiContext, req: IncomingMessage, res: ServerResponse, segment: string, q: URLSearchParams): Promise<void> {
  const id = decodeSegment(segment);
  const conv = parseConversation(id, api.ctx.opts.limits.maxIdLength);
  if (id === undefined || conv === undefined) return sendWireError(res, ErrorCode.InvalidField, 'conversation: must be a canonical conversation id (dm:<a>:<b> or room:<id>)');
  const after = intParam(q, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = intParam(q, 'limit', 100, 1, 1000);
  if (typeof after === 'string') return sendWireError(res, ErrorCode.InvalidField, after);
  if (typeof limit === 'string') return sendWireError(res, ErrorCode.InvalidField, limit);
  const who = await caller(api, req, res);
  if (who === undefined) return;
  if (who !== 'dev') {
    const allowed = conv.kind === 'dm' ? dmPeer(conv, who.user) !== undefined : who.canJoin(conv.room);
    if (!allowed) return sendWireError(res, ErrorCode.Forbidden, 'not a participant of this conversation');
  }
  try {
    const page = await api.ctx.messaging.history(conv.kind === 'room' ? roomConversation(conv.room) : id, { after, limit });
    sendJson(res, 200, page);
  } catch (err) {
    sendFailure(api, res, err);
  }
}
