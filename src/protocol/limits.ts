/**
 * Protocol version and the size limits every frame is checked against.
 *
 * The version is negotiated with the WebSocket subprotocol `meridian.v1` (not inside a frame):
 * it is settled before the first byte of application data, the edge proxy already forwards the
 * subprotocol list to the region it picks, and a future v2 server can offer both versions.
 * The server repeats the limits it enforces in `welcome.limits`, so clients never hard-code them.
 */

export const PROTOCOL_VERSION = 1;
/** The `Sec-WebSocket-Protocol` value a client MUST offer. */
export const SUBPROTOCOL = 'meridian.v1';

export interface ProtocolLimits {
  /** Largest frame accepted, in UTF-8 bytes, checked before JSON parsing. */
  readonly maxFrameBytes: number;
  /** Largest `send.body`, in UTF-8 bytes of its compact JSON form (what the log stores). */
  readonly maxBodyBytes: number;
  /** Deepest nesting of arrays/objects in a body; deep JSON is a cheap way to hurt a parser. */
  readonly maxBodyDepth: number;
  /** Longest user or room id, in UTF-16 code units. */
  readonly maxIdLength: number;
  /** Longest client-chosen frame `id` (echoed as `ref`). */
  readonly maxRefLength: number;
  /** Longest `clientMsgId` (the idempotency key). */
  readonly maxClientMsgIdLength: number;
  /** Most conversations one `resume` may name. */
  readonly maxResumeConversations: number;
  /** Most rooms one connection may have joined at once (each costs a subscription and memory). */
  readonly maxRoomsPerConnection: number;
}

// Body and conversation limits line up with the message log (src/log/validate.ts): 64 KiB bodies,
// 256-character conversation ids. 120-character ids make `dm:<a>:<b>` fit in 256 when the ids
// need no escaping (3 + 120 + 1 + 120 = 244).
export const DEFAULT_LIMITS: ProtocolLimits = Object.freeze({
  maxFrameBytes: 128 * 1024,
  maxBodyBytes: 64 * 1024,
  maxBodyDepth: 32,
  maxIdLength: 120,
  maxRefLength: 64,
  maxClientMsgIdLength: 64,
  maxResumeConversations: 256,
  maxRoomsPerConnection: 256,
});

/** Longest conversation id (the message log's limit). */
export const MAX_CONVERSATION_LENGTH = 256;

/** Fill in defaults; a partial object is convenient in tests and in node options. */
export function resolveLimits(limits: Partial<ProtocolLimits> = {}): ProtocolLimits {
  return { ...DEFAULT_LIMITS, ...limits };
}
