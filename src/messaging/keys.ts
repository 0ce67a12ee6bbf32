/**
 * The KV buckets messaging keeps beside the logs, and how their keys are spelled. Every id goes
 * through `kvToken()` so any user or conversation id is exactly one key token.
 *
 *   mrd-homes    <conversation>                  → region that homes the conversation (never changes)
 *   mrd-cursors  d.<user>.<conversation>         → highest seq the user's devices acked as delivered
 *                r.<user>.<conversation>         → highest seq the user read
 *   mrd-inbox    <user>.<conversation>           → "" : the user takes part in this direct conversation
 */
import { buckets, kvToken, unKvToken } from '../bus/subjects.js';

export const HOMES_BUCKET = buckets.name('homes');
export const CURSORS_BUCKET = buckets.name('cursors');
export const INBOX_BUCKET = buckets.name('inbox');

export type CursorKind = 'delivered' | 'read';

export const keys = {
  home: (conversation: string) => kvToken(conversation),
  cursor: (kind: CursorKind, user: string, conversation: string) => `${kind === 'delivered' ? 'd' : 'r'}.${kvToken(user)}.${kvToken(conversation)}`,
  inbox: (user: string, conversation: string) => `${kvToken(user)}.${kvToken(conversation)}`,
  inboxOf: (user: string) => `${kvToken(user)}.*`,
  /** The conversation of an inbox key. */
  inboxConversation: (key: string) => unKvToken(key.slice(key.indexOf('.') + 1)),
} as const;
