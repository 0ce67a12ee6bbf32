/**
 * Messaging: cross-region delivery of direct and room messages on top of the bus and the log.
 *
 * One `Messaging` per region node. It knows nothing about WebSockets: the region node turns
 * frames into calls here and writes the frames it gets back to sockets.
 *
 * Where a conversation lives: every conversation has exactly one home region, whose message log
 * stores it and assigns its seqs. The home is computed from the conversation id and the topology
 * (src/placement: rendezvous hashing over the candidate regions, no directory). A send in
 * another region is forwarded over the bus to the home region (`mrd.logrpc.<region>`, queue group:
 * any node of that region serves it). The home node appends (durable), then publishes the encoded
 * `message` frame once on `mrd.user.<u>` for both participants (direct) or `mrd.room.<room>`;
 * every node with local sessions of that user / room subscribes and writes the bytes as they are.
 *
 * Contract (MUST / MUST NOT):
 * - `send` MUST resolve only after the message is durable in its conversation's log, with the
 *   log's `seq`; a retry with the same `(from, conversation, clientMsgId)` within the dedupe window
 *   MUST resolve with the original ack and `duplicate: true` and MUST NOT deliver again.
 * - Every message MUST be published for live delivery after it is stored and before `send`
 *   resolves at the home node; live delivery is at-most-once (the log is the source of truth:
 *   `history` and `pending` fill anything live delivery missed).
 * - Deliveries of one conversation MUST reach each subscribed handler in seq order.
 * - `send` MUST reject with a `MeridianError` whose code the node maps to a wire error:
 *   `MSG_FORBIDDEN` (not a participant / no capability — checked by the caller),
 *   `LOG_*` codes from the log, `MSG_UNAVAILABLE` when the home region cannot be reached,
 *   `MSG_TIMEOUT` when it did not answer in time (the send may have been stored: retry).
 * - `ackDelivered`/`ackRead` MUST only raise a user's cursor (never lower it), persist it
 *   (at the conversation's home, src/placement), and relay a `receipt` frame to the other participant's sessions
 *   (direct) or to the senders of the covered messages (rooms).
 * - `pending(user)` MUST list every direct conversation of `user` whose last seq is above the
 *   user's delivered cursor: the offline inbox, in any region. Conversations homed in a region
 *   that cannot be reached at that moment MAY be missing from the list (they are unavailable).
 */
import type { JsonValue } from '../protocol/mod.js';

export type Recipient = { readonly user: string } | { readonly room: string };

export interface SendInput {
  readonly from: string;
  readonly to: Recipient;
  readonly body: JsonValue;
  /** The sender's idempotency key (1–64 characters). */
  readonly clientMsgId: string;
  /** `local` or `replicated` (docs/protocol.md); absent: the topology's default for the conversation. */
  readonly durability?: Durability;
}

export type Durability = 'local' | 'replicated';

export interface SendResult {
  readonly messageId: string;
  readonly conversation: string;
  readonly seq: number;
  readonly timestamp: number;
  readonly duplicate: boolean;
  /** Region whose log stored the message (the conversation's home). */
  readonly home: string;
  /** What the ack means: stored at the home (`local`) or at the home and its replica (`replicated`). */
  readonly durability: Durability;
}

/** One message as stored and delivered (the fields of the `message` server frame). */
export interface StoredMessage {
  readonly conversation: string;
  readonly seq: number;
  readonly messageId: string;
  readonly from: string;
  readonly to: Recipient;
  readonly body: JsonValue;
  readonly timestamp: number;
  /** Region whose node accepted the send. */
  readonly region: string;
  /** An event the runtime wrote (protocol `message.event`), not a user's message. */
  readonly event?: 'failover_aside';
}

/**
 * A live delivery as the bus carries it: `frame` is the encoded server frame (JSON text), built
 * once at the home node, so nodes write it to every socket without re-encoding.
 */
export type Delivery =
  | {
      readonly kind: 'message';
      readonly conversation: string;
      readonly seq: number;
      readonly from: string;
      readonly frame: string;
      /** The home's timestamp and the accepting region (delivery latency and flows, src/observability). */
      readonly timestamp?: number;
      readonly region?: string;
      /** W3C traceparent of the publish, when the send was traced. */
      readonly traceparent?: string;
    }
  | { readonly kind: 'receipt'; readonly conversation: string; readonly seq: number; readonly frame: string };

export interface HistoryPage {
  readonly conversation: string;
  readonly messages: readonly StoredMessage[];
  /** Highest seq ever assigned in the conversation (0 if none). */
  readonly lastSeq: number;
  /** Lowest stored seq (`lastSeq + 1` when nothing is stored). */
  readonly firstAvailable: number;
  /**
   * After a failover: seqs up to here may have been handed out by the old home (`local` acks the
   * copy never got, below the new owner's first seq), so a reader positioned up to here is not
   * beyond the conversation's end. Absent before any failover.
   */
  readonly reservedUpTo?: number;
}

export interface PendingConversation {
  readonly conversation: string;
  /** The user's delivered cursor (0 if never acked). */
  readonly cursor: number;
  readonly lastSeq: number;
}

export interface Messaging {
  readonly region: string;
  send(input: SendInput): Promise<SendResult>;
  /**
   * Live deliveries for a user (direct messages, receipts) on this node. The node keeps one bus
   * subscription per user however many handlers (sessions) there are. Returns unsubscribe.
   */
  onUser(user: string, handler: (d: Delivery) => void): () => void;
  /** Live deliveries of a room's messages on this node. Returns unsubscribe. */
  onRoom(room: string, handler: (d: Delivery) => void): () => void;
  /** Stored messages with `seq > after`, ascending, at most `limit` (1–1000). */
  history(conversation: string, opts?: { after?: number; limit?: number }): Promise<HistoryPage>;
  lastSeq(conversation: string): Promise<number>;
  ackDelivered(user: string, conversation: string, seq: number): Promise<void>;
  ackRead(user: string, conversation: string, seq: number): Promise<void>;
  /** The user's delivered cursor in a conversation (0 if none). */
  cursor(user: string, conversation: string): Promise<number>;
  /** The offline inbox: direct conversations of `user` with messages past the cursor. */
  pending(user: string): Promise<PendingConversation[]>;
  close(): Promise<void>;
}
