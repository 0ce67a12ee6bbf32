/**
 * How messaging spells the keys of the buckets it keeps beside the logs, at each conversation's
 * home (the buckets themselves are named and placed by src/placement). Every id goes through
 * `kvToken()` so any user or conversation id is exactly one key token.
 *
 *   cursors  d.<user>.<conversation>         → highest seq the user's devices acked as delivered
 *            r.<user>.<conversation>         → highest seq the user read
 *   inbox    u/<user>                        → JSON list of the direct conversations homed here the user
 *                                            takes part in: one get lists them (a key listing needs a
 *                                            JetStream consumer, i.e. the meta leader, on every connect)
 *            <user>.<conversation>           → "" : the earlier form, one key per pair; folded into the
 *                                            list when a node first opens the bucket
 */
import { kvToken, unKvToken } from '../bus/subjects.js';

export type CursorKind = 'delivered' | 'read';

export const keys = {
  cursor: (kind: CursorKind, user: string, conversation: string) => `${kind === 'delivered' ? 'd' : 'r'}.${kvToken(user)}.${kvToken(conversation)}`,
  /** A user's list of direct conversations homed here (one token: `/` never appears in a kvToken). */
  inboxList: (user: string) => `u/${kvToken(user)}`,
  /** The user of an inbox list key. */
  inboxListUser: (key: string) => unKvToken(key.slice(2)),
  /** Every inbox list key. */
  inboxLists: () => 'u/*',
  /** The earlier per-pair form (read once to fold it into the lists; erasure still removes it). */
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
