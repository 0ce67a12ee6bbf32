/**
 * `POST /v1/messages`: a server-side send, answered like `ack` (201, or 200 for a duplicate
 * `clientMsgId`). The body is a `send` frame without `type` and `id`, plus `from`: checked by the
 * same parser as a client's frame, and by the same rule (`maySend`). A client token sends as its
 * user; dev mode and a `send` API key send as the user `from` names (client.ts).
 */
import { ErrorCode } from '../../errors/mod.js';
import { readBodyOrRefuse } from '../../http/body.js';
import { parseJsonBounded } from '../../http/json.js';
import { sendError, sendJson } from '../../http/respond.js';
import { checkId, parseClientFrame, tryDmConversation } from '../../protocol/mod.js';
import type { RequestErrorName } from '../../protocol/mod.js';
import { maySend, maySendAs } from '../access-rules.js';
import { principal, sendWireFailure, sendWireError } from './client.js';
import type { Route } from './route.js';

export const messages: Route = {
  path: '/v1/messages',
  methods: ['POST'],
  needsBus: true,
  async handle(c, { req, res }) {
    const who = await principal(c, req, res, 'send');
    if (who === undefined) return;
    const limits = c.node.opts.limits;
    const max = limits.maxFrameBytes;
    const raw = await readBodyOrRefuse(req, res, { bytes: max, code: ErrorCode.FrameTooLarge, message: `the body exceeds ${max} bytes` });
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
      const id = checkId(from, limits.maxIdLength);
      if (!id.ok) return sendError(res, 400, ErrorCode.InvalidField, `from: ${id.reason} (${who === 'dev' ? 'dev mode' : 'an API key'}: name the sender)`);
      sender = from as string;
    } else {
      // Checked before the frame, as always: a wrong `from` is 403 whatever else the body holds.
      const own = maySendAs(who, from);
      if (!own.ok) return sendError(res, 403, ErrorCode.Forbidden, `${own.path}: ${own.reason}`);
      sender = who.user;
    }
    // The same checks as a client's `send` frame, by the same parser.
    const parsed = parseClientFrame(JSON.stringify({ ...rest, type: 'send', id: 'http' }), limits);
    if (!parsed.ok) return sendWireError(res, parsed.error.name as RequestErrorName, parsed.error.message);
    const f = parsed.frame;
    if (f.type !== 'send') return sendWireError(res, ErrorCode.InternalError, 'unexpected frame');
    const may = maySend(who, f.to);
    if (!may.ok) return sendWireError(res, ErrorCode.Forbidden, `${may.path}: ${may.reason}`);
    if (f.to.user !== undefined) {
      const dm = tryDmConversation(sender, f.to.user, limits.maxIdLength);
      if (!dm.ok) return sendWireError(res, ErrorCode.InvalidField, `to.user: ${dm.reason}`);
    }
    try {
      const to = f.to.user !== undefined ? { user: f.to.user } : { room: f.to.room! };
      const r = await c.node.messaging.send({ from: sender, to, body: f.body, clientMsgId: f.clientMsgId });
      sendJson(res, r.duplicate ? 200 : 201, { messageId: r.messageId, conversation: r.conversation, seq: r.seq, timestamp: r.timestamp, duplicate: r.duplicate });
    } catch (err) {
      sendWireFailure(c, res, err);
    }
  },
};
