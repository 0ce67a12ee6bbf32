/**
 * `GET /v1/conversations/{id}/messages?after=&limit=`: a conversation's history from the log,
 * for those who may read it (`mayRead`, as the WebSocket's `history` frame): a direct
 * conversation's two users, a room's capability holders, anyone in dev mode.
 */
import { ErrorCode } from '../../errors/mod.js';
import { sendJson } from '../../http/respond.js';
import { parseConversation, roomConversation } from '../../protocol/mod.js';
import { mayRead, NOT_A_PARTICIPANT } from '../access-rules.js';
import { decodeSegment, principal, sendWireFailure, sendWireError } from './client.js';
import type { Route } from './route.js';

/** An integer query parameter in [min, max], `dflt` when absent; a string says what is wrong. */
function intParam(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number | string {
  const v = q.get(name);
  if (v === null) return dflt;
  if (!/^\d{1,16}$/.test(v)) return `${name}: must be an integer`;
  const n = Number(v);
  if (n < min || n > max) return `${name}: must be between ${min} and ${max}`;
  return n;
}

export const history: Route = {
  path: /^\/v1\/conversations\/([^/]+)\/messages$/,
  methods: ['GET', 'HEAD'],
  needsBus: true,
  async handle(c, { req, res, url, params }) {
    const id = decodeSegment(params[0]!);
    const conv = parseConversation(id, c.node.opts.limits.maxIdLength);
    if (id === undefined || conv === undefined) return sendWireError(res, ErrorCode.InvalidField, 'conversation: must be a canonical conversation id (dm:<a>:<b> or room:<id>)');
    const after = intParam(url.searchParams, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(url.searchParams, 'limit', 100, 1, 1000);
    if (typeof after === 'string') return sendWireError(res, ErrorCode.InvalidField, after);
    if (typeof limit === 'string') return sendWireError(res, ErrorCode.InvalidField, limit);
    const who = await principal(c, req, res);
    if (who === undefined) return;
    if (!mayRead(who, conv)) return sendWireError(res, ErrorCode.Forbidden, NOT_A_PARTICIPANT);
    try {
      sendJson(res, 200, await c.node.messaging.history(conv.kind === 'room' ? roomConversation(conv.room) : id, { after, limit }));
    } catch (err) {
      sendWireFailure(c, res, err);
    }
  },
};
