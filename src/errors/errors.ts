/**
 * Typed errors with stable string codes.
 *
 * Every error Meridian throws on purpose is a `MeridianError` (or subclass) whose `code` is one of
 * `ErrorCode`. Codes are part of the public API: they are never renamed or reused, so callers and
 * logs can match on them across versions. Wire errors (numeric, with reconnect/terminal ranges)
 * live with the protocol; they map onto these codes.
 */

export const ErrorCode = {
  // topology
  TopologyInvalid: 'TOPOLOGY_INVALID',
  TopologyNotFound: 'TOPOLOGY_NOT_FOUND',
  // bus
  BusInvalidSubject: 'BUS_INVALID_SUBJECT',
  BusInvalidHeader: 'BUS_INVALID_HEADER',
  BusInvalidQueue: 'BUS_INVALID_QUEUE',
  BusPayloadTooLarge: 'BUS_PAYLOAD_TOO_LARGE',
  BusTimeout: 'BUS_TIMEOUT',
  BusNoResponders: 'BUS_NO_RESPONDERS',
  BusClosed: 'BUS_CLOSED',
  BusUnavailable: 'BUS_UNAVAILABLE',
  BusUnknownRegion: 'BUS_UNKNOWN_REGION',
  // kv
  KvInvalidKey: 'KV_INVALID_KEY',
  KvInvalidBucket: 'KV_INVALID_BUCKET',
  KvWrongRevision: 'KV_WRONG_REVISION',
  KvKeyExists: 'KV_KEY_EXISTS',
  // edge steering (client input the edge answers with 400, and its own setup)
  EdgeInvalidCountry: 'EDGE_INVALID_COUNTRY',
  EdgeInvalidLocation: 'EDGE_INVALID_LOCATION',
  EdgeInvalidRtt: 'EDGE_INVALID_RTT',
  EdgeInvalidIp: 'EDGE_INVALID_IP',
  EdgeInvalidTrustedProxy: 'EDGE_INVALID_TRUSTED_PROXY',
  EdgeGeoIpUnavailable: 'EDGE_GEOIP_UNAVAILABLE',
  // edge server (HTTP answers and its configuration)
  EdgeInvalidConfig: 'EDGE_INVALID_CONFIG',
  EdgeUnknownRegion: 'EDGE_UNKNOWN_REGION',
  EdgeNoRegion: 'EDGE_NO_REGION',
  EdgeUpstreamFailed: 'EDGE_UPSTREAM_FAILED',
  EdgeUpstreamTimeout: 'EDGE_UPSTREAM_TIMEOUT',
  EdgeRateLimited: 'EDGE_RATE_LIMITED',
  EdgeUnauthorized: 'EDGE_UNAUTHORIZED',
  /** A valid credential without the right (an API key lacking the `admin` scope). */
  EdgeForbidden: 'EDGE_FORBIDDEN',
  EdgeOriginNotAllowed: 'EDGE_ORIGIN_NOT_ALLOWED',
  EdgeNotFound: 'EDGE_NOT_FOUND',
  EdgeInternal: 'EDGE_INTERNAL',
  // services: registry and call policies
  SvcInvalidRegistration: 'SVC_INVALID_REGISTRATION',
  SvcInvalidPolicy: 'SVC_INVALID_POLICY',
  SvcUnknownWorker: 'SVC_UNKNOWN_WORKER',
  SvcNoEndpoints: 'SVC_NO_ENDPOINTS',
  SvcOverloaded: 'SVC_OVERLOADED',
  SvcTimeout: 'SVC_TIMEOUT',
  // message log (src/log)
  LogInvalidConversation: 'LOG_INVALID_CONVERSATION',
  LogInvalidArgument: 'LOG_INVALID_ARGUMENT',
  LogBodyTooLarge: 'LOG_BODY_TOO_LARGE',
  LogDuplicateGone: 'LOG_DUPLICATE_GONE',
  LogContention: 'LOG_CONTENTION',
  LogUnavailable: 'LOG_UNAVAILABLE',
  LogClosed: 'LOG_CLOSED',
  // messaging (src/messaging)
  MsgForbidden: 'MSG_FORBIDDEN',
  MsgInvalid: 'MSG_INVALID',
  MsgBadSequence: 'MSG_BAD_SEQUENCE',
  MsgUnavailable: 'MSG_UNAVAILABLE',
  MsgTimeout: 'MSG_TIMEOUT',
  MsgClosed: 'MSG_CLOSED',
  // presence (src/presence)
  PresenceInvalid: 'PRESENCE_INVALID',
  PresenceClosed: 'PRESENCE_CLOSED',
  // region node (src/node): configuration and authentication
  NodeInvalidConfig: 'NODE_INVALID_CONFIG',
  /** A browser `Origin` the node's origins do not list: its WebSocket upgrade is refused 403. */
  OriginNotAllowed: 'ORIGIN_NOT_ALLOWED',
  AuthFailed: 'AUTH_FAILED',
  AuthExpired: 'AUTH_EXPIRED',
  // services: proxy, functions, DLQ (src/services)
  SvcUnknownService: 'SVC_UNKNOWN_SERVICE',
  SvcUnknownFunction: 'SVC_UNKNOWN_FUNCTION',
  SvcInvalidEvent: 'SVC_INVALID_EVENT',
  SvcBodyTooLarge: 'SVC_BODY_TOO_LARGE',
  SvcUpstreamFailed: 'SVC_UPSTREAM_FAILED',
  SvcUnauthorized: 'SVC_UNAUTHORIZED',
  SvcNotFound: 'SVC_NOT_FOUND',
  SvcBreakerOpen: 'SVC_BREAKER_OPEN',
  SvcForbidden: 'SVC_FORBIDDEN',
  SvcLoopDetected: 'SVC_LOOP_DETECTED',
  // API keys (src/keys): the keys file and `meridian keys`
  KeysInvalidScope: 'KEYS_INVALID_SCOPE',
  KeysUnknownId: 'KEYS_UNKNOWN_ID',
  KeysInvalidFile: 'KEYS_INVALID_FILE',
  KeysInvalidArgument: 'KEYS_INVALID_ARGUMENT',
  KeysFileLocked: 'KEYS_FILE_LOCKED',
  // TypeScript client (src/client)
  ClientClosed: 'CLIENT_CLOSED',
  ClientTimeout: 'CLIENT_TIMEOUT',
  ClientRequestFailed: 'CLIENT_REQUEST_FAILED',
  ClientConnectionClosed: 'CLIENT_CONNECTION_CLOSED',
  ClientSendExpired: 'CLIENT_SEND_EXPIRED',
  ClientProtocol: 'CLIENT_PROTOCOL',
  ClientInvalid: 'CLIENT_INVALID',
  ClientUnreachable: 'CLIENT_UNREACHABLE',
  // generic
  NotAvailable: 'NOT_AVAILABLE',
  InvalidArgument: 'INVALID_ARGUMENT',
  // replicated logs and home failover (src/log store, src/messaging, src/failover)
  LogOutOfOrder: 'LOG_OUT_OF_ORDER',
  MsgFenced: 'MSG_FENCED',
  MsgDurabilityNotAllowed: 'MSG_DURABILITY_NOT_ALLOWED',
  // erasure (src/erasure)
  ErasureInvalid: 'ERASURE_INVALID',
  ErasureNotFound: 'ERASURE_NOT_FOUND',
  ErasureUnavailable: 'ERASURE_UNAVAILABLE',
  ErasureReceiptInvalid: 'ERASURE_RECEIPT_INVALID',
  // residency (src/residency)
  /** The residency rules forbid this here (a strict conversation in a region it excludes, a message into a room its sender's rule forbids). */
  ResidencyForbidden: 'RESIDENCY_FORBIDDEN',
  /** The participants' rules allow no region in common: the conversation can be stored nowhere. */
  ResidencyConflict: 'RESIDENCY_CONFLICT',
  /** A token's jurisdiction or country claim is unknown or disagrees with the rule its user id falls under. */
  AuthResidency: 'AUTH_RESIDENCY',
  // The region node's wire names (docs/protocol.md "Errors and close codes"): its `error` frames
  // name these, and its HTTP answers use them as their codes. Every request error name of
  // src/protocol/codes.ts is here (test/http/respond.test.ts checks), spelled the same.
  BadFrame: 'BAD_FRAME',
  UnknownType: 'UNKNOWN_TYPE',
  InvalidField: 'INVALID_FIELD',
  FrameTooLarge: 'FRAME_TOO_LARGE',
  BodyTooLarge: 'BODY_TOO_LARGE',
  NotAuthenticated: 'NOT_AUTHENTICATED',
  AlreadyAuthenticated: 'ALREADY_AUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  BadSequence: 'BAD_SEQUENCE',
  DuplicateGone: 'DUPLICATE_GONE',
  RateLimited: 'RATE_LIMITED',
  Unavailable: 'UNAVAILABLE',
  Timeout: 'TIMEOUT',
  NotSupported: 'NOT_SUPPORTED',
  InternalError: 'INTERNAL_ERROR',
  // (RESIDENCY_FORBIDDEN, the last request error name, is ResidencyForbidden above.)
  // HTTP-only answers of the region node
  /** The request target is not a URL the node can parse. */
  BadRequest: 'BAD_REQUEST',
  /** A plain HTTP request to the WebSocket endpoint `/ws` (426). */
  UpgradeRequired: 'UPGRADE_REQUIRED',
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface MeridianErrorOptions {
  cause?: unknown;
  /** Structured facts about the failure (subject, bucket, limits…), safe to log. */
  details?: Record<string, unknown>;
}

export class MeridianError extends Error {
  override name = 'MeridianError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: MeridianErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Thrown when an implementation cannot offer a capability; never a silent no-op. */
export class NotAvailableError extends MeridianError {
  override name = 'NotAvailableError';
  constructor(what: string, options: MeridianErrorOptions = {}) {
    super(ErrorCode.NotAvailable, `${what} is not available in this implementation`, options);
  }
}

export function isMeridianError(err: unknown, code?: ErrorCode): err is MeridianError {
  return err instanceof MeridianError && (code === undefined || err.code === code);
}
