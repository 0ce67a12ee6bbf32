/**
 * Messages between the log and the wire: a log entry becomes a `StoredMessage` and the encoded
 * `message` frame (built once at the home node, carried as is over the bus and written as is to
 * every socket); receipts likewise.
 */
import { createHash } from 'node:crypto';
import { encodeServerFrame, parseConversation } from '../protocol/mod.js';
import type { LogEntry } from '../log/mod.js';
import type { CursorKind } from './keys.js';
import type { Recipient, StoredMessage } from './types.js';

/** Log header naming the region whose node accepted the send. */
export const REGION_HEADER = 'mrd-region';
/** Log header: the epoch an entry was written in, when above 1 (after a failover, src/failover). */
export const EPOCH_HEADER = 'mrd-epoch';
/** Log header: the entry is an event the runtime wrote (`MessageFrame.event`), not a user's message. */
export const EVENT_HEADER = 'mrd-event';
/** The sender of events the runtime writes into a conversation. */
export const SYSTEM_SENDER = 'meridian';

/**
 * The message id of a send: derived from what identifies the send (conversation, sender,
 * clientMsgId), so a retry computes the same id and the log's dedupe recognises it.
 */
export function messageIdOf(conversation: string, from: string, clientMsgId: string): string {
  const h = createHash('sha256').update(conversation).update('\0').update(from).update('\0').update(clientMsgId).digest('base64url');
  return `m-${h.slice(0, 22)}`;
}

/** Who a message of `conversation` from `from` was addressed to. */
export function recipientOf(conversation: string, from: string): Recipient {
  const c = parseConversation(conversation);
  if (!c) throw new RangeError(`not a conversation id: ${conversation}`);
  if (c.kind === 'room') return { room: c.room };
  const [a, b] = c.users;
  return { user: a === from ? b : a };
}

export function storedFromEntry(e: LogEntry): StoredMessage {
  return {
    conversation: e.conversation,
    seq: e.seq,
    messageId: e.id,
    from: e.from,
    to: recipientOf(e.conversation, e.from),
    body: e.body instanceof Uint8Array ? Buffer.from(e.body).toString('base64') : e.body,
    timestamp: e.timestamp,
    region: e.headers[REGION_HEADER] ?? '',
    ...(e.headers[EVENT_HEADER] === 'failover_aside' ? { event: 'failover_aside' as const } : {}),
  };
}

export function encodeMessage(m: StoredMessage): string {
  return encodeServerFrame({
    type: 'message',
    conversation: m.conversation,
    seq: m.seq,
    messageId: m.messageId,
    from: m.from,
    to: m.to,
    body: m.body,
    timestamp: m.timestamp,
    region: m.region,
    ...(m.event === undefined ? {} : { event: m.event }),
  });
}

export function encodeReceipt(kind: CursorKind, conversation: string, user: string, seq: number, timestamp: number): string {
  return encodeServerFrame({ type: 'receipt', kind, conversation, user, seq, timestamp });
}
