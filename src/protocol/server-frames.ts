/**
 * Server → client frames: zod schemas (the one source of their TypeScript types) and the
 * lenient parsing rules a client applies.
 *
 * Within protocol version 1 the server may add fields and frame types; a client MUST ignore both.
 * The schemas are therefore non-strict objects (unknown fields are dropped) and enums a client
 * only displays (reasons) are plain strings. Every answer to a client frame carries `ref`, the
 * `id` of the frame it answers.
 */

import { z } from 'zod';
import type { JsonValue } from './fields.js';

const str = z.string();
const seq = z.number().int().nonnegative();
const ts = z.number().int().nonnegative();
const body = z.custom<JsonValue>((v) => v !== undefined, 'is required');

const presenceState = z.object({
  user: str,
  online: z.boolean(),
  /** Regions where the user has at least one connection. */
  regions: z.array(str),
  connections: z.number().int().nonnegative(),
  /** When the user was last connected; absent while online or if never seen. */
  lastSeenAt: ts.optional(),
});

const welcomeLimits = z.object({
  maxFrameBytes: z.number().int(),
  maxBodyBytes: z.number().int(),
  maxBodyDepth: z.number().int(),
  maxIdLength: z.number().int(),
  maxRefLength: z.number().int(),
  maxClientMsgIdLength: z.number().int(),
  maxResumeConversations: z.number().int(),
  /** Most rooms joined at once on one connection (absent from servers before it was announced). */
  maxRoomsPerConnection: z.number().int().optional(),
  /** Most messages one `resumed`/retransmit replays per conversation. */
  maxReplay: z.number().int(),
  /** How long a `clientMsgId` is remembered for deduplication. */
  dedupeWindowMs: z.number().int(),
});

export const serverFrameSchemas = {
  welcome: z.object({
    type: z.literal('welcome'),
    ref: str,
    protocol: z.literal(1),
    region: str,
    node: str,
    session: str,
    user: str,
    heartbeatMs: z.number().int().positive(),
    idleTimeoutMs: z.number().int().positive(),
    limits: welcomeLimits,
    /** Room capability patterns from the token (`*` matches any run of characters). */
    rooms: z.array(str),
    /** Token expiry (ms since epoch); the server closes with TOKEN_EXPIRED then. */
    expiresAt: ts.optional(),
  }),
  ack: z.object({ type: z.literal('ack'), ref: str, messageId: str, conversation: str, seq, timestamp: ts, duplicate: z.boolean(), durability: z.enum(['local', 'replicated']).optional() }),
  message: z.object({
    type: z.literal('message'),
    conversation: str,
    seq,
    messageId: str,
    from: str,
    to: z.union([z.object({ user: str }), z.object({ room: str })]),
    body,
    timestamp: ts,
    /** Region whose node accepted the message. */
    region: str,
    /**
     * Set on an event the runtime wrote into the conversation (never on a user's message; `from`
     * is then `meridian`). `failover_aside`: the conversation's old home, back after a failover,
     * holds messages it acked as `local` that never reached the new owner (body: region, fromSeq,
     * toSeq, count).
     */
    event: z.enum(['failover_aside']).optional(),
  }),
  receipt: z.object({ type: z.literal('receipt'), kind: z.enum(['delivered', 'read']), conversation: str, user: str, seq, timestamp: ts }),
  presence: z.discriminatedUnion('of', [
    z.object({ type: z.literal('presence'), ref: str.optional(), of: z.literal('user'), state: presenceState }),
    z.object({ type: z.literal('presence'), ref: str.optional(), of: z.literal('room'), room: str, members: z.array(presenceState), truncated: z.boolean() }),
  ]),
  presence_event: z.object({
    type: z.literal('presence_event'),
    event: z.enum(['online', 'offline', 'join', 'leave']),
    user: str,
    /** Set for join/leave. */
    room: str.optional(),
    region: str,
    timestamp: ts,
  }),
  joined: z.object({ type: z.literal('joined'), ref: str, room: str, conversation: str, lastSeq: seq }),
  left: z.object({ type: z.literal('left'), ref: str, room: str, conversation: str }),
  ok: z.object({ type: z.literal('ok'), ref: str }),
  heartbeat: z.object({ type: z.literal('heartbeat'), ref: str.optional(), ts }),
  resumed: z.object({
    type: z.literal('resumed'),
    ref: str,
    conversation: str,
    /** True when every message after the client's position up to `toSeq` follows. */
    recovered: z.boolean(),
    /** Why not recovered, e.g. `history_gone` (retention or erasure). */
    reason: str.optional(),
    fromSeq: seq,
    toSeq: seq,
    /** Newest seq of the conversation when the replay was read; > toSeq means ask for more. */
    lastSeq: seq,
  }),
  gap: z.object({ type: z.literal('gap'), conversation: str, fromSeq: seq, toSeq: seq.optional(), reason: str }),
  migrate: z.object({ type: z.literal('migrate'), reason: str, suggestedRegion: str, url: str, deadlineMs: z.number().int().nonnegative() }),
  error: z.object({
    type: z.literal('error'),
    code: z.number().int().min(4000).max(4499),
    name: str,
    message: str,
    ref: str.optional(),
    retryable: z.boolean(),
    /** INVALID_FIELD: the offending field, dotted (`to.user`, `positions.dm:a:b`). */
    path: str.optional(),
    retryAfterMs: z.number().int().nonnegative().optional(),
  }),
} as const;

type Schemas = typeof serverFrameSchemas;
export type ServerFrameType = keyof Schemas;
export type ServerFrameOf<T extends ServerFrameType> = z.output<Schemas[T]>;

export type WelcomeFrame = ServerFrameOf<'welcome'>;
export type WelcomeLimits = z.output<typeof welcomeLimits>;
export type AckFrame = ServerFrameOf<'ack'>;
export type MessageFrame = ServerFrameOf<'message'>;
export type ReceiptFrame = ServerFrameOf<'receipt'>;
export type PresenceFrame = ServerFrameOf<'presence'>;
export type PresenceState = z.output<typeof presenceState>;
export type PresenceEventFrame = ServerFrameOf<'presence_event'>;
export type JoinedFrame = ServerFrameOf<'joined'>;
export type LeftFrame = ServerFrameOf<'left'>;
export type OkFrame = ServerFrameOf<'ok'>;
export type ServerHeartbeatFrame = ServerFrameOf<'heartbeat'>;
export type ResumedFrame = ServerFrameOf<'resumed'>;
export type GapFrame = ServerFrameOf<'gap'>;
export type MigrateFrame = ServerFrameOf<'migrate'>;
export type ErrorFrame = ServerFrameOf<'error'>;
export type ServerFrame = { [T in ServerFrameType]: ServerFrameOf<T> }[ServerFrameType];

export const SERVER_FRAME_TYPES: readonly ServerFrameType[] = Object.keys(serverFrameSchemas) as ServerFrameType[];
