/**
 * The bus: how regions talk to each other.
 *
 * One `Bus` is one region's connection to the fabric that joins all regions. Two implementations
 * satisfy this contract and pass the same conformance suite (test/bus/conformance.ts):
 * - `EmbeddedNetwork` (bus/embedded): every region in one process, links with simulated one-way
 *   latency, regions that can be killed and links that can be cut;
 * - `NatsBus` (bus/nats): a nats.js connection to the region's NATS cluster in a super-cluster
 *   joined by gateways; KV on JetStream.
 * Higher layers depend on these types only, never on which implementation runs.
 *
 * Contract (MUST / MUST NOT):
 * - `publish` MUST reject an invalid subject (see subjects.ts: dot-separated tokens, no
 *   wildcards) with `BUS_INVALID_SUBJECT`, a payload over `maxPayload` with
 *   `BUS_PAYLOAD_TOO_LARGE`, and MUST throw `BUS_CLOSED` after `close()`. It is at-most-once:
 *   it MUST NOT block on remote regions and MAY drop messages while a region or link is down.
 * - A message published in any region MUST reach every matching plain subscription in every
 *   reachable region, with its headers, and messages from one publisher on one subject MUST
 *   arrive in publish order.
 * - Subscriptions accept `*` (one token) and `>` (one or more trailing tokens).
 * - Queue subscriptions: each message MUST go to exactly one member of each queue group.
 *   A member in the publisher's region MUST be preferred; when none is there, the member MUST be
 *   in the reachable region nearest to the publisher (lowest link RTT).
 * - `request` MUST resolve with the first reply, reject with `BUS_NO_RESPONDERS` when nothing
 *   is subscribed anywhere reachable, and with `BUS_TIMEOUT` after `timeoutMs` otherwise.
 * - Status changes (disconnect from the region's servers, reconnect) MUST be reported through
 *   `status()` as `BusStatus` values, never as thrown errors or crashes.
 * - `close()` MUST end every subscription and status iterator of this bus and MUST be idempotent.
 */

/** Message headers: case-sensitive names, one value each. */
export type Headers = Readonly<Record<string, string>>;

export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** Present when the publisher expects a reply (request/reply). */
  readonly reply?: string;
}

export interface PublishOptions {
  headers?: Headers;
  /** Where replies should go; `request()` sets this itself. */
  reply?: string;
}

export interface SubscribeOptions {
  /** Queue group name: one member of the group receives each message, local region first. */
  queue?: string;
}

export interface RequestOptions {
  /** Milliseconds to wait for the first reply. Default 5000. */
  timeoutMs?: number;
  headers?: Headers;
}

export type MessageHandler = (msg: BusMessage) => void;

export interface Subscription {
  readonly subject: string;
  readonly queue?: string;
  /** Stop receiving. Idempotent. */
  unsubscribe(): void;
}

/** Connection state changes, as data (never thrown). */
export type BusStatus =
  | { type: 'disconnected'; region: string; reason?: string }
  | { type: 'reconnecting'; region: string }
  | { type: 'reconnected'; region: string }
  | { type: 'error'; region: string; error: Error }
  | { type: 'closed'; region: string };

export interface KvOptions {
  /** Entries older than this are removed. 0 or absent: keep forever. */
  ttlMs?: number;
  /** Revisions kept per key (1 to 64). Default 1. */
  history?: number;
  /**
   * The region whose servers hold the bucket. Default: the region of the bus that creates it.
   * The bucket is readable and writable from every region while its home region is reachable.
   */
  region?: string;
}

export interface KvEntry {
  readonly bucket: string;
  readonly key: string;
  /** Empty for deletes. */
  readonly value: Uint8Array;
  /** Increases with every change in the bucket (not per key). */
  readonly revision: number;
  /** Milliseconds since the epoch when the change was stored. */
  readonly created: number;
  readonly operation: 'PUT' | 'DEL';
}

export interface KvWatchOptions {
  /** Key or key pattern (`*`, `>` tokens as in subjects). Default `>`: every key. */
  key?: string;
  /** Deliver the current value of every matching key first. Default true. */
  initial?: boolean;
}

/**
 * A watch: an async iterator of changes, in revision order.
 * MUST deliver every PUT and DEL made after it started, in revision order, to watchers in every
 * region. Expiry by TTL is not announced (NATS 2.9 has no expiry markers): readers see the entry
 * gone.
 */
export interface KvWatch extends AsyncIterable<KvEntry> {
  stop(): void;
}

/**
 * A key-value bucket.
 * - Keys are dot-separated tokens of `[A-Za-z0-9_=/-]` (NATS KV rules); anything else:
 *   `KV_INVALID_KEY`.
 * - `get` MUST return the latest value, or `null` for a key never set, deleted or expired.
 * - `create` MUST fail with `KV_KEY_EXISTS` when the key holds a value.
 * - `update` MUST fail with `KV_WRONG_REVISION` unless the key's latest revision is `revision`.
 * - While the home region is unreachable, every call MUST reject with `BUS_UNAVAILABLE` (or
 *   `BUS_TIMEOUT`), and MUST work again once it is back, with its data intact.
 */
export interface Kv {
  readonly bucket: string;
  get(key: string): Promise<KvEntry | null>;
  put(key: string, value: Uint8Array): Promise<number>;
  create(key: string, value: Uint8Array): Promise<number>;
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  delete(key: string): Promise<void>;
  keys(pattern?: string): Promise<string[]>;
  watch(opts?: KvWatchOptions): Promise<KvWatch>;
}

export interface Bus {
  /** The region this bus is attached to. */
  readonly region: string;
  /** Largest payload accepted, in bytes. */
  readonly maxPayload: number;
  publish(subject: string, data: Uint8Array, opts?: PublishOptions): void;
  subscribe(subject: string, handler: MessageHandler, opts?: SubscribeOptions): Subscription;
  request(subject: string, data: Uint8Array, opts?: RequestOptions): Promise<BusMessage>;
  /** Open (creating if needed) a KV bucket. Options apply at creation. */
  kv(bucket: string, opts?: KvOptions): Promise<Kv>;
  /** Resolves once everything published so far has left this process. */
  flush(): Promise<void>;
  status(): AsyncIterable<BusStatus>;
  close(): Promise<void>;
}
