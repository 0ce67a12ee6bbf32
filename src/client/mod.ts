/**
 * `meridian/client`: the TypeScript client of the Meridian protocol (docs/protocol.md), for
 * browsers and Node. This entry is browser-safe and uses `globalThis.WebSocket` unless
 * `options.WebSocket` is given; in Node, `node.ts` (what `meridian/client` resolves to there)
 * defaults to the `ws` package instead.
 */
export { MeridianClient, connect } from './client.js';
export { Backoff, DEFAULT_BACKOFF } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export {
  ClientError,
  RequestFailedError,
  ConnectionClosedError,
  ConnectionDroppedError,
  ClientTimeoutError,
  ClientClosedError,
  SendExpiredError,
  ClientProtocolError,
  ClientInvalidError,
  ClientUnreachableError,
} from './errors.js';
export type { ConnectAttempt } from './errors.js';
export { DEFAULT_ELECTION } from './election.js';
export type { ElectionOptions, ElectionResult, ElectionFailure, ProbedRegion, CandidateRegion, FetchLike } from './election.js';
export type {
  ClientOptions,
  ClientStatus,
  ClientEvents,
  Message,
  SendAck,
  SendOptions,
  Target,
  TokenSource,
  LostRange,
  ElectionReport,
  WebSocketLike,
  WebSocketConstructor,
} from './types.js';
