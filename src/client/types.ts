/**
 * The client's public shapes: options, status (as data), events, and the minimal WebSocket it
 * needs, which the browser's WebSocket and the `ws` package both provide.
 */
import type {
  GapFrame,
  JsonValue,
  MessageFrame,
  MigrateFrame,
  PresenceEventFrame,
  PresenceFrame,
  ReceiptFrame,
  ResumedFrame,
  WelcomeFrame,
} from '../protocol/mod.js';
import type { BackoffOptions } from './backoff.js';
import type { Clock } from './clock.js';
import type { ElectionOptions, ElectionResult, FetchLike } from './election.js';
import type { ClientUnreachableError } from './errors.js';

/** The part of the WHATWG WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server selected ('' when none). */
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: never) => void): void;
}

export interface WebSocketMessageEvent {
  readonly data: unknown;
}

export interface WebSocketCloseEvent {
  readonly code: number;
  readonly reason: string;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Who a message goes to: a user (direct conversation) or a room. */
export type Target = { readonly user: string } | { readonly room: string };

export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /**
   * Where to connect: the edge's or a region's `/ws` URL (ws:// or wss://). With several, each
   * reconnect tries the next. A `migrate` frame's URL joins the list as the preferred one.
   */
  url?: string | readonly string[];
  /**
   * The edge's http(s) URL: turns on latency election (see `election`). The client asks the edge
   * for the regions it may use, times a few requests to the best-scored ones and connects to the
   * fastest; it re-elects periodically and when the link degrades, moving make-before-break.
   * `url` is then the fallback when the election finds nothing (default: the edge's own `/ws`).
   */
  edge?: string;
  /** Election and re-election parameters (defaults: DEFAULT_ELECTION). Only with `edge`. */
  election?: Partial<ElectionOptions>;
  /** The `fetch` the election uses. Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** A JWT, or a function returning a fresh one (called on every connect: needed to survive TOKEN_EXPIRED). */
  token?: TokenSource;
  /** Dev mode only (`meridian up`): connect as this user without a token. */
  user?: string;
  /** WebSocket implementation. Default: `globalThis.WebSocket` (the Node entry defaults to `ws`). */
  WebSocket?: WebSocketConstructor;
  /** Reconnect after a non-terminal close. Default true. */
  reconnect?: boolean;
  backoff?: Partial<BackoffOptions>;
  /** `connect()` keeps retrying a failed first connection instead of rejecting. Default false. */
  waitOnFirstConnect?: boolean;
  /** Upgrade + auth + welcome must finish within this. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * Make before break: after a move's new connection has re-joined and resumed, the old one is
   * kept this much longer, so the new session's presence reaches every region before the old
   * one's ends (peers see no leave/join). Bounded by `migrate`'s deadline. Default 1000 ms.
   */
  handoverLingerMs?: number;
  /** Requests (join, presence, retransmit, each send attempt) wait this long for their answer. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Sends awaiting their answer at most (more wait in the outbox). Default 100. */
  maxInFlightSends?: number;
  /** Send `delivery_ack` cursors automatically for messages handed to the application. Default true. */
  autoAck?: boolean;
  /** Delay of the delivery-ack batch, at most 1000 ms (the protocol's bound). Default 250 ms. */
  ackDelayMs?: number;
  /** Known positions per conversation (e.g. persisted from `positions()`), resumed on connect. */
  positions?: Readonly<Record<string, number>>;
  /** How long a hole opened only by an own ack may stay before it is fetched. Default 300 ms. */
  gapGraceMs?: number;
  clock?: Clock;
  /** Uniform [0, 1): backoff jitter and client message ids. Default Math.random. */
  random?: () => number;
}

export type ClientStatus =
  | { readonly type: 'connecting'; readonly url: string; readonly attempt: number }
  | { readonly type: 'connected'; readonly url: string; readonly region: string; readonly node: string; readonly session: string; readonly welcome: WelcomeFrame }
  | { readonly type: 'disconnected'; readonly code: number; readonly reason: string; readonly reconnectInMs: number }
  | { readonly type: 'migrating'; readonly from: string; readonly to: string; readonly reason: string }
  | { readonly type: 'closed'; readonly error?: Error };

export interface SendOptions {
  /** The idempotency key; generated when absent. Reuse it to retry a send across client restarts. */
  clientMsgId?: string;
  /** Stop retrying (rejects with the signal's reason). */
  signal?: AbortSignal;
  /**
   * `replicated`: acked only once a replica region holds the message too (it survives the loss of
   * its home region); `local`: acked once the home stored it. Default: the deployment's.
   */
  durability?: 'local' | 'replicated';
}

export interface SendAck {
  readonly clientMsgId: string;
  readonly messageId: string;
  readonly conversation: string;
  readonly seq: number;
  readonly timestamp: number;
  /** True when the server had this clientMsgId already (the original ack came back). */
  readonly duplicate: boolean;
  /** What the ack means, when the server says (`local` or `replicated`). */
  readonly durability?: 'local' | 'replicated';
}

export type Message = MessageFrame;

/** Messages dropped from a conversation's history that a resume or retransmit could not return. */
export interface LostRange {
  readonly conversation: string;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly reason: string;
}

export type ClientEvents = {
  message: Message;
  receipt: ReceiptFrame;
  /** Snapshots answering `subscribePresence` (also after a reconnect re-subscribes). */
  presence: PresenceFrame;
  presence_event: PresenceEventFrame;
  /** Every resume/retransmit result; `recovered: false` means history was gone. */
  resumed: ResumedFrame;
  /** The server dropped live messages of a conversation for this client (it is fetching them). */
  gap: GapFrame;
  /** A range skipped because the server no longer has it (after `recovered: false`). */
  lost: LostRange;
  migrate: MigrateFrame;
  /** Every election (on connect, periodic, on a degraded link, on `migrate`) and what it decided. */
  election: ElectionReport;
  /** A whole round of connection attempts failed: no transport could connect at all. */
  unreachable: ClientUnreachableError;
  status: ClientStatus;
  /** Errors not tied to a call: unsolicited error frames, invalid server frames, throwing handlers. */
  error: Error;
};

export type { JsonValue };

/** What an election found and did (the `election` event). */
export interface ElectionReport {
  /**
   * What started it: the first connection or a reconnect (`connect`), the periodic timer
   * (`interval`), a degraded link (`degraded`), or a `migrate` frame (`migrate`, reported once the
   * move succeeded or failed).
   */
  readonly trigger: 'connect' | 'interval' | 'degraded' | 'migrate';
  readonly result: ElectionResult;
  /** The region connected when it ran (undefined on connect). */
  readonly current: string | undefined;
  /**
   * `switch` (moved make-before-break to `region`), `stay` (kept the current link; after
   * `migrate`: every target failed to connect, the draining link is kept until the node closes
   * it), `connect`, `none` (nothing answered; after `migrate`: no other allowed region, or the
   * draining link closed before a move connected).
   */
  readonly decision: 'connect' | 'switch' | 'stay' | 'none';
  readonly region: string | undefined;
  /** Why it stayed or moved, in words. */
  readonly why: string;
}
