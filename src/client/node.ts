/**
 * The Node entry of `meridian/client`: the same API as mod.ts, with the `ws` package as the
 * default WebSocket (Node 20 has no global WebSocket; `ws` also lets a dead socket be
 * terminated at once instead of waiting out a closing handshake).
 */
import { WebSocket } from 'ws';
import { MeridianClient as CoreClient, connect as coreConnect } from './client.js';
import type { ClientOptions, WebSocketConstructor } from './types.js';

// ws's event types are its own classes, structurally richer than the WHATWG shapes we use.
const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

function withWs(options: ClientOptions): ClientOptions {
  return options.WebSocket ? options : { ...options, WebSocket: NodeWebSocket };
}

export class MeridianClient extends CoreClient {
  constructor(options: ClientOptions) {
    super(withWs(options));
  }
}

export function connect(options: ClientOptions): Promise<CoreClient> {
  return coreConnect(withWs(options));
}

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
