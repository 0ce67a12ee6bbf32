/**
 * Who may read, send, join and look at presence: the one statement of these rules, for the
 * WebSocket session (src/node/session/) and the node's HTTP API alike. Pure functions of who
 * asks and what they name; establishing who asks (verifying a token, reading an API key) and
 * checking that ids are well formed happen before, where the request is read.
 *
 * Who asks (`Principal`):
 * - a user: a verified client token or a dev `auth { user }` (`Identity`: its user and room
 *   capability; a dev identity holds every room);
 * - `dev`: an HTTP request without a credential on a dev-mode node. It names no user, so it
 *   stands for any: it reads any conversation, sends as the user `from` names, sees any presence;
 * - `operator`: an API key with the `send` scope (or the admin token) on `POST /v1/messages`: a
 *   server-side sender, it sends as the user `from` names, to any user or room. A key carries no
 *   user, so it reads nothing, joins nothing and sees no presence.
 */
import { dmPeer, parseConversation } from '../protocol/mod.js';
import type { Conversation } from '../protocol/mod.js';
import type { Identity } from './auth.js';

/** A user as far as access goes: who, and which rooms its token grants. */
export type UserPrincipal = Pick<Identity, 'user' | 'canJoin'>;
export type Principal = UserPrincipal | 'dev' | 'operator';

/** A user or a room, as frames name them: exactly one is set (the frame parser sees to it). */
export interface Target {
  readonly user?: string | undefined;
  readonly room?: string | undefined;
}

/** Why a principal may not do it, and the request field it is about. */
export type Refusal = { readonly ok: false; readonly path: string; readonly reason: string };
export type Decision = { readonly ok: true } | Refusal;

const ALLOWED: Decision = Object.freeze({ ok: true });

/** The reason for a room the principal holds no capability for (the room cut to 64 characters). */
export function noRoomCapability(room: string): string {
  return `no capability for room ${JSON.stringify(room.slice(0, 64))}`;
}

/** The reason for a conversation the principal may not read. */
export const NOT_A_PARTICIPANT = 'not a participant of this conversation';

/**
 * Read (history, resume, retransmit) and acknowledge (`delivery_ack`, `read`) a conversation:
 * a direct conversation's two users, a room's capability holders.
 */
export function mayRead(who: Principal, conversation: Conversation): boolean {
  if (who === 'dev') return true;
  if (who === 'operator') return false;
  return conversation.kind === 'dm' ? dmPeer(conversation, who.user) !== undefined : who.canJoin(conversation.room);
}

/** `mayRead` of a conversation id as a client sent it: an id that is not canonical is nobody's. */
export function mayReadId(who: Principal, conversation: string, maxIdLength: number): boolean {
  const c = parseConversation(conversation, maxIdLength);
  return c !== undefined && mayRead(who, c);
}

/**
 * Send to a user or a room, as `from` (undefined: as the principal itself). A user sends only as
 * itself, to any user, and to the rooms it holds a capability for; `dev` and `operator` send as
 * the user they name, anywhere. Whether the ids are valid is checked where the request is parsed.
 */
export function maySend(who: Principal, to: Target, from?: string): Decision {
  const as = maySendAs(who, from);
  if (!as.ok || who === 'dev' || who === 'operator') return as;
  if (to.room !== undefined && !who.canJoin(to.room)) return { ok: false, path: 'to.room', reason: noRoomCapability(to.room) };
  return ALLOWED;
}

/**
 * The sender part of `maySend` alone, for a request that names `from` before its target is
 * parsed (`from` as the request has it: anything but the user's own id, or nothing, is refused).
 */
export function maySendAs(who: Principal, from: unknown): Decision {
  if (who === 'dev' || who === 'operator' || from === undefined || from === who.user) return ALLOWED;
  return { ok: false, path: 'from', reason: 'must be the token\'s user (or be left out)' };
}

/** Join a room (its messages, receipts and presence): holders of the room capability. */
export function mayJoin(who: Principal, room: string): boolean {
  if (who === 'dev') return true;
  if (who === 'operator') return false;
  return who.canJoin(room);
}

/**
 * Query or subscribe to presence: any user's presence for every user (and `dev`); a room's
 * members for those who may join it.
 */
export function mayQueryPresence(who: Principal, of: Target): boolean {
  if (of.room !== undefined) return mayJoin(who, of.room);
  return who !== 'operator';
}
