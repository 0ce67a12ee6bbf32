/**
 * How messaging spells the keys of the buckets it keeps beside the logs, at each conversation's
 * home (the buckets themselves are named and placed by src/placement). Every id goes through
 * `kvToken()` so any user or conversation id is exactly one key token.
 *
 *   cursors  d.<user>.<conversation>         → highest seq the user's devices acked as delivered
 *            r.<user>.<conversation>         → highest seq the user read
 *   inbox    <user>.<conversation>           → "" : the user takes part in this direct conversation
 */
import { kvToken, unKvToken } from '../bus/subjects.js';

export type CursorKind = 'delivered' | 'read';

export const keys = {
  cursor: (kind: CursorKind, user: string, conversation: string) => `${kind === 'delivered' ? 'd' : 'r'}.${kvToken(user)}.${kvToken(conversation)}`,
  inbox: (user: string, conversation: string) => `${kvToken(user)}.${kvToken(conversation)}`,
  inboxOf: (user: string) => `${kvToken(user)}.*`,
  /** Patterns for erasure (src/erasure): every inbox key of a user, every one of a conversation. */
  inboxWith: (conversation: string) => `*.${kvToken(conversation)}`,
  /** Every cursor of a user (both kinds), and every cursor in a conversation. */
  cursorsOf: (user: string): readonly string[] => [`d.${kvToken(user)}.*`, `r.${kvToken(user)}.*`],
  cursorsIn: (conversation: string): readonly string[] => [`d.*.${kvToken(conversation)}`, `r.*.${kvToken(conversation)}`],
  /** The conversation of an inbox key. */
  inboxConversation: (key: string) => unKvToken(key.slice(key.indexOf('.') + 1)),
} as const;
