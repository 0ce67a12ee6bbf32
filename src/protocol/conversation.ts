/**
 * Canonical conversation ids: the one name a conversation has in frames, in the message log and
 * on the bus.
 *
 *   direct:  dm:<a>:<b>   the two user ids sorted (UTF-16 code unit order), each escaped
 *   room:    room:<room>  the room id as is
 *
 * Escaping in `dm:` ids turns `%` into `%25` and `:` into `%3A`, so an escaped id never contains
 * `:` and the id splits back into exactly one pair: no two different pairs share an id, even when
 * user ids contain `:`. Rooms need no escaping: everything after `room:` is the room id.
 * Ids are compared exactly (case-sensitive, no Unicode normalisation); lone surrogates are refused
 * because they do not survive UTF-8 (two different ids would become the same bytes on the bus).
 */

import { MAX_CONVERSATION_LENGTH, DEFAULT_LIMITS } from './limits.js';

export type Conversation = { kind: 'dm'; users: readonly [string, string] } | { kind: 'room'; room: string };

export type IdCheck = { ok: true } | { ok: false; reason: string };

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `id` is not a valid user or room id, if it is not. */
export function checkId(id: unknown, maxLength: number = DEFAULT_LIMITS.maxIdLength): IdCheck {
  if (typeof id !== 'string') return { ok: false, reason: 'must be a string' };
  if (id.length === 0 || id.length > maxLength) return { ok: false, reason: `must be 1-${maxLength} characters` };
  if (CONTROL.test(id)) return { ok: false, reason: 'must not contain control characters' };
  if (LONE_SURROGATE.test(id)) return { ok: false, reason: 'must be well-formed Unicode' };
  if (id.trim() !== id) return { ok: false, reason: 'must not start or end with whitespace' };
  return { ok: true };
}

function escapeSegment(id: string): string {
  return id.replace(/%/g, '%25').replace(/:/g, '%3A');
}

function unescapeSegment(seg: string): string | undefined {
  // Only the two escapes we write are accepted, so every id has one spelling.
  if (/%(?!25|3A)/.test(seg)) return undefined;
  return seg.replace(/%3A/g, ':').replace(/%25/g, '%');
}

function requireId(what: string, id: string, maxLength: number): void {
  const c = checkId(id, maxLength);
  if (!c.ok) throw new RangeError(`${what} ${c.reason}`);
}

/**
 * The conversation id of the direct conversation between two users, whichever order they are
 * given in. Throws RangeError on invalid ids or when the escaped id would exceed 256 characters
 * (possible only for ids with many `:` or `%`); use `tryDmConversation` to get a reason instead.
 */
export function dmConversation(a: string, b: string, maxIdLength: number = DEFAULT_LIMITS.maxIdLength): string {
  const r = tryDmConversation(a, b, maxIdLength);
  if (!r.ok) throw new RangeError(r.reason);
  return r.id;
}

export function tryDmConversation(a: string, b: string, maxIdLength: number = DEFAULT_LIMITS.maxIdLength): { ok: true; id: string } | { ok: false; reason: string } {
  for (const [what, id] of [['user a', a], ['user b', b]] as const) {
    const c = checkId(id, maxIdLength);
    if (!c.ok) return { ok: false, reason: `${what} ${c.reason}` };
  }
  const [lo, hi] = a <= b ? [a, b] : [b, a];
  const id = `dm:${escapeSegment(lo)}:${escapeSegment(hi)}`;
  if (id.length > MAX_CONVERSATION_LENGTH) {
    return { ok: false, reason: `the conversation id would be ${id.length} characters, more than ${MAX_CONVERSATION_LENGTH} (':' and '%' count 3)` };
  }
  return { ok: true, id };
}

/** The conversation id of a room. Throws RangeError on an invalid room id. */
export function roomConversation(room: string, maxIdLength: number = DEFAULT_LIMITS.maxIdLength): string {
  requireId('room', room, maxIdLength);
  return `room:${room}`;
}

/**
 * Parse a conversation id. Returns undefined for anything that is not the canonical spelling
 * (unsorted pair, lower-case or needless escapes, invalid ids), so a parsed id always rebuilds
 * to the same string.
 */
export function parseConversation(id: unknown, maxIdLength: number = DEFAULT_LIMITS.maxIdLength): Conversation | undefined {
  if (typeof id !== 'string' || id.length > MAX_CONVERSATION_LENGTH) return undefined;
  if (id.startsWith('room:')) {
    const room = id.slice(5);
    return checkId(room, maxIdLength).ok ? { kind: 'room', room } : undefined;
  }
  if (!id.startsWith('dm:')) return undefined;
  const parts = id.slice(3).split(':');
  if (parts.length !== 2) return undefined;
  const a = unescapeSegment(parts[0] ?? '');
  const b = unescapeSegment(parts[1] ?? '');
  if (a === undefined || b === undefined) return undefined;
  const rebuilt = tryDmConversation(a, b, maxIdLength);
  if (!rebuilt.ok || rebuilt.id !== id) return undefined;
  return { kind: 'dm', users: [a, b] };
}

/** True for a canonical conversation id. */
export function isConversation(id: unknown, maxIdLength?: number): id is string {
  return parseConversation(id, maxIdLength) !== undefined;
}

/** The other participant of a direct conversation, or undefined when `user` is not in it. */
export function dmPeer(conversation: Conversation, user: string): string | undefined {
  if (conversation.kind !== 'dm') return undefined;
  const [a, b] = conversation.users;
  return a === user ? b : b === user ? a : undefined;
}
