/**
 * Wire error codes: numbers with stable string names, in ranges that tell a client what to do.
 *
 *   4000–4099  request errors, sent in an `error` frame; the connection stays open
 *   4100–4499  reserved for future request errors
 *   4500–4749  close codes after which the client reconnects (with backoff) and resumes
 *   4750–4999  terminal close codes: do not reconnect with the same credentials/configuration
 *
 * Like Centrifugo's 3000–3499 / 3500–3999 split, a client that does not know a code can still
 * act on its range. We use the private-use range 4000–4999 because 3000–3999 is for codes
 * registered with IANA. Codes and names are never renamed or reused (docs/protocol.md lists them).
 */

export const RequestError = {
  BAD_FRAME: 4000,
  UNKNOWN_TYPE: 4001,
  INVALID_FIELD: 4002,
  FRAME_TOO_LARGE: 4003,
  BODY_TOO_LARGE: 4004,
  NOT_AUTHENTICATED: 4010,
  ALREADY_AUTHENTICATED: 4011,
  FORBIDDEN: 4012,
  NOT_FOUND: 4013,
  RESIDENCY_FORBIDDEN: 4014,
  BAD_SEQUENCE: 4020,
  DUPLICATE_GONE: 4021,
  RATE_LIMITED: 4030,
  UNAVAILABLE: 4031,
  TIMEOUT: 4032,
  NOT_SUPPORTED: 4033,
  INTERNAL_ERROR: 4034,
} as const;

export const CloseCode = {
  SERVER_DRAINING: 4500,
  SLOW_CONSUMER: 4501,
  HEARTBEAT_TIMEOUT: 4502,
  INTERNAL: 4503,
  AUTH_TIMEOUT: 4504,
  REGION_UNAVAILABLE: 4505,
  AUTH_FAILED: 4750,
  TOKEN_EXPIRED: 4751,
  PROTOCOL_VERSION: 4752,
  POLICY_VIOLATION: 4753,
  RESIDENCY_MISMATCH: 4754,
} as const;

export type RequestErrorName = keyof typeof RequestError;
export type RequestErrorCode = (typeof RequestError)[RequestErrorName];
export type CloseName = keyof typeof CloseCode;
export type CloseCodeValue = (typeof CloseCode)[CloseName];

/**
 * Request errors worth retrying unchanged (after `retryAfterMs` when given). Everything else
 * needs a different frame, different credentials, or will fail again.
 */
const RETRYABLE: ReadonlySet<RequestErrorName> = new Set(['RATE_LIMITED', 'UNAVAILABLE', 'TIMEOUT', 'INTERNAL_ERROR']);

export function isRetryable(name: RequestErrorName): boolean {
  return RETRYABLE.has(name);
}

const REQUEST_NAMES = new Map<number, RequestErrorName>(
  Object.entries(RequestError).map(([name, code]) => [code, name as RequestErrorName]),
);
const CLOSE_NAMES = new Map<number, CloseName>(Object.entries(CloseCode).map(([name, code]) => [code, name as CloseName]));

/** The stable name of a request error code, or undefined for a code this version does not know. */
export function requestErrorName(code: number): RequestErrorName | undefined {
  return REQUEST_NAMES.get(code);
}

/** The stable name of a close code of ours, or undefined. */
export function closeName(code: number): CloseName | undefined {
  return CLOSE_NAMES.get(code);
}

// Standard RFC 6455 codes a client may see from the server, a proxy or its own stack.
// Going away / abnormal / restart / try later / bad gateway: a transient condition.
const STANDARD_RECONNECT: ReadonlySet<number> = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);
// Protocol error / unsupported data / bad payload / policy / too big / extension: reconnecting
// sends the same thing again.
const STANDARD_TERMINAL: ReadonlySet<number> = new Set([1002, 1003, 1007, 1008, 1009, 1010]);

/** True when the client should reconnect (with backoff) and resume after this close code. */
export function isReconnectClose(code: number): boolean {
  return (code >= 4500 && code <= 4749) || STANDARD_RECONNECT.has(code);
}

/** True when the client must not reconnect automatically with the same credentials. */
export function isTerminalClose(code: number): boolean {
  return (code >= 4750 && code <= 4999) || STANDARD_TERMINAL.has(code);
}

/** True for a code in the request-error range (never used to close a connection). */
export function isRequestErrorCode(code: number): boolean {
  return Number.isInteger(code) && code >= 4000 && code <= 4499;
}
