/**
 * Presence over HTTP, for client tokens (and dev mode), by the rule the WebSocket's `presence`
 * frames follow (`mayQueryPresence`): any user's presence, a room's members for those who may join it.
 *
 *   GET /v1/presence/{user}          a user's presence
 *   GET /v1/rooms/{room}/presence    a room's members (at most maxPresenceMembers)
 */
import { ErrorCode } from '../../errors/mod.js';
import { sendJson } from '../../http/respond.js';
import { checkId } from '../../protocol/mod.js';
import { mayQueryPresence, noRoomCapability } from '../access-rules.js';
import { decodeSegment, principal, sendWireFailure, sendWireError } from './client.js';
import type { Route } from './route.js';

export const userPresence: Route = {
  path: /^\/v1\/presence\/([^/]+)$/,
  methods: ['GET', 'HEAD'],
  needsBus: true,
  async handle(c, { req, res, params }) {
    const user = decodeSegment(params[0]!);
    const id = checkId(user, c.node.opts.limits.maxIdLength);
    if (user === undefined || !id.ok) return sendWireError(res, ErrorCode.InvalidField, `user: ${id.ok ? 'malformed' : id.reason}`);
    const who = await principal(c, req, res);
    if (who === undefined) return;
    // Always true of who gets here (API keys were refused above): the rule is stated once all the same.
    if (!mayQueryPresence(who, { user })) return sendWireError(res, ErrorCode.Forbidden, 'presence is for users');
    try {
      sendJson(res, 200, await c.node.presence.user(user));
    } catch (err) {
      sendWireFailure(c, res, err);
    }
  },
};

export const roomPresence: Route = {
  path: /^\/v1\/rooms\/([^/]+)\/presence$/,
  methods: ['GET', 'HEAD'],
  needsBus: true,
  async handle(c, { req, res, params }) {
    const room = decodeSegment(params[0]!);
    const id = checkId(room, c.node.opts.limits.maxIdLength);
    if (room === undefined || !id.ok) return sendWireError(res, ErrorCode.InvalidField, `room: ${id.ok ? 'malformed' : id.reason}`);
    const who = await principal(c, req, res);
    if (who === undefined) return;
    if (!mayQueryPresence(who, { room })) return sendWireError(res, ErrorCode.Forbidden, noRoomCapability(room));
    try {
      sendJson(res, 200, await c.node.presence.room(room, { limit: c.node.opts.maxPresenceMembers }));
    } catch (err) {
      sendWireFailure(c, res, err);
    }
  },
};
