/**
 * `EmbeddedBus`: one region's connection to an `EmbeddedNetwork`, implementing the `Bus`
 * contract the NATS bus also implements. Validation happens here, synchronously, so a bad
 * subject fails where it was written; routing and latency belong to the network core.
 */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { assertHeaders, assertPublishSubject, assertQueueName, assertSubscribeSubject, newInbox } from '../subjects.js';
import type {
  Bus,
  BusMessage,
  BusStatus,
  Kv,
  KvOptions,
  MessageHandler,
  PublishOptions,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from '../types.js';
import { closedError } from './core.js';
import type { Attached, WanCore } from './core.js';
import { openKv } from './kv.js';
import type { KvOwner } from './kv.js';
import { AsyncQueue } from './queue.js';
import type { SubRecord } from './sub-index.js';

const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

export class EmbeddedBus implements Bus, Attached, KvOwner {
  readonly maxPayload: number;
  private isClosed = false;
  private readonly requests = new Set<(err: Error) => void>();
  private readonly statuses = new Set<AsyncQueue<BusStatus>>();
  private readonly watches = new Set<{ stop(): void }>();

  /** Use `EmbeddedNetwork.connect()`. */
  constructor(
    private readonly core: WanCore,
    readonly region: string,
  ) {
    this.maxPayload = core.maxPayload;
    core.attach(this);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): void {
    this.assertOpen();
    assertPublishSubject(subject);
    if (opts.reply !== undefined) assertPublishSubject(opts.reply);
    assertHeaders(opts.headers);
    this.assertSize(data);
    const msg: BusMessage = {
      subject,
      // Copied now: the publisher may reuse its buffer as soon as publish() returns.
      data: data.slice(),
      headers: Object.freeze({ ...opts.headers }),
      ...(opts.reply === undefined ? {} : { reply: opts.reply }),
    };
    // A bus whose region is down drops what it publishes (at most once, as core NATS).
    this.core.route(this.region, msg);
  }

  subscribe(subject: string, handler: MessageHandler, opts: SubscribeOptions = {}): Subscription {
    this.assertOpen();
    assertSubscribeSubject(subject);
    if (opts.queue !== undefined) assertQueueName(opts.queue);
    const sub = new EmbeddedSub(this, subject, opts.queue, handler);
    this.core.addSub(sub);
    return sub;
  }

  /** @internal Called by a subscription's `unsubscribe()`. */
  dropSub(sub: SubRecord): void {
    this.core.removeSub(sub);
  }

  request(subject: string, data: Uint8Array, opts: RequestOptions = {}): Promise<BusMessage> {
    try {
      this.assertOpen();
      assertPublishSubject(subject);
      assertHeaders(opts.headers);
      this.assertSize(data);
      const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
        throw new MeridianError(ErrorCode.InvalidArgument, `timeoutMs must be a positive number, got ${timeoutMs}`);
      }
      // A disconnected bus cannot learn about responders: its request just times out.
      if (this.core.isUp(this.region) && !this.core.hasInterest(this.region, subject)) {
        throw new MeridianError(ErrorCode.BusNoResponders, `no responders for ${subject}`, { details: { subject, region: this.region } });
      }
      return this.awaitReply(subject, data, opts, timeoutMs);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  kv(bucket: string, opts?: KvOptions): Promise<Kv> {
    return openKv(this.core, this, bucket, opts);
  }

  flush(): Promise<void> {
    if (this.isClosed) return Promise.reject(closedError(this.region));
    // Nothing leaves the process, but one turn lets same-region deliveries queued so far run.
    return new Promise((resolve) => setImmediate(resolve));
  }

  status(): AsyncIterable<BusStatus> {
    this.assertOpen();
    const queue: AsyncQueue<BusStatus> = new AsyncQueue(() => this.statuses.delete(queue));
    this.statuses.add(queue);
    return queue;
  }

  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.isClosed = true;
    // The core holds every subscription (a Set here too would cost an entry per subscription).
    for (const sub of this.core.subsIn(this.region)) {
      if (!(sub instanceof EmbeddedSub) || !sub.ownedBy(this)) continue;
      sub.active = false;
      this.core.removeSub(sub);
    }
    const closed = closedError(this.region);
    for (const fail of [...this.requests]) fail(closed);
    for (const w of [...this.watches]) w.stop();
    for (const q of this.statuses) {
      q.push({ type: 'closed', region: this.region });
      q.end();
    }
    this.statuses.clear();
    this.core.detach(this);
    return Promise.resolve();
  }

  /** @internal Called by the network core. */
  onStatus(status: BusStatus): void {
    for (const q of this.statuses) q.push(status);
  }

  /** @internal Called by KV watches so close() can end them. */
  track(watch: { stop(): void }): void {
    this.watches.add(watch);
  }

  /** @internal */
  untrack(watch: { stop(): void }): void {
    this.watches.delete(watch);
  }

  private awaitReply(subject: string, data: Uint8Array, opts: RequestOptions, timeoutMs: number): Promise<BusMessage> {
    return new Promise<BusMessage>((resolve, reject) => {
      const inbox = newInbox();
      const finish = (): void => {
        clearTimeout(timer);
        sub.unsubscribe();
        this.requests.delete(fail);
      };
      const fail = (err: Error): void => {
        finish();
        reject(err);
      };
      const sub = this.subscribe(inbox, (msg) => {
        finish();
        resolve(msg);
      });
      const timer = setTimeout(() => {
        fail(new MeridianError(ErrorCode.BusTimeout, `no reply on ${subject} within ${timeoutMs} ms`, { details: { subject, timeoutMs } }));
      }, timeoutMs);
      this.requests.add(fail);
      this.publish(subject, data, { ...(opts.headers ? { headers: opts.headers } : {}), reply: inbox });
    });
  }

  private assertOpen(): void {
    if (this.isClosed) throw closedError(this.region);
  }

  private assertSize(data: Uint8Array): void {
    if (data.byteLength > this.maxPayload) {
      throw new MeridianError(ErrorCode.BusPayloadTooLarge, `payload of ${data.byteLength} bytes exceeds ${this.maxPayload}`, {
        details: { size: data.byteLength, maxPayload: this.maxPayload },
      });
    }
  }
}

/**
 * One subscription: the record the network routes to and the handle the caller holds, as one
 * object with methods (a region node holds one per connected user, so closures per
 * subscription were a measurable part of an idle connection's cost).
 */
class EmbeddedSub implements SubRecord, Subscription {
  active = true;
  readonly region: string;

  constructor(
    private readonly bus: EmbeddedBus,
    readonly subject: string,
    readonly queue: string | undefined,
    private readonly handler: MessageHandler,
  ) {
    this.region = bus.region;
  }

  ownedBy(bus: EmbeddedBus): boolean {
    return this.bus === bus;
  }

  deliver(msg: BusMessage): void {
    try {
      this.handler(msg);
    } catch (err) {
      // A throwing handler is the application's bug; report it as data, keep delivering.
      this.bus.onStatus({ type: 'error', region: this.region, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    this.bus.dropSub(this);
  }
}
