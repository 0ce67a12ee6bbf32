/**
 * A self-healing ordered feed of a KV bucket's changes, over a JetStream push consumer.
 *
 * Why not nats.js `kv.watch()`: its ordered consumer notices a lost consumer only after two
 * missed 30 s heartbeats, so a watch whose home region restarts goes silent for a minute or
 * more. Here heartbeats are short, and the feed recreates its consumer from the last stream
 * sequence it delivered whenever it sees a gap (delivery sequence jump, heartbeat reporting
 * deliveries we never got), a deleted consumer, or silence. Changes are delivered exactly once,
 * in stream (revision) order, as long as the stream still holds them.
 *
 * Used by watches (run until stopped) and by `keys()` (one snapshot, then stop).
 */
import { createInbox, nanos } from '@nats-io/transport-node';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { ConsumerConfig, ConsumerInfo, JetStreamManager } from '@nats-io/jetstream';
import { EPHEMERAL_CONSUMER, deleteConsumerQuietly, parseAckReply, unsubscribeQuietly } from '../../nats/mod.js';
import type { KvEntry } from '../types.js';

export interface FeedOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  bucket: string;
  /** Key pattern, already validated. */
  key: string;
  /** Start with the latest entry of every matching key (`last_per_subject`), else only news. */
  initial: boolean;
  headersOnly?: boolean;
  /** Idle heartbeat asked of the server; silence for 3 of them means the consumer is lost. */
  heartbeatMs?: number;
  /** Called for each change; `initial` marks entries of the starting snapshot. */
  onEntry(entry: KvEntry, initial: boolean): void;
  /** The starting snapshot has been delivered (at once when `initial` is false). */
  onInitialDone?(): void;
  /** A consumer could not be (re)created; the feed keeps retrying unless stopped. */
  onError?(err: unknown): void;
}

const EMPTY = new Uint8Array(0);
const STALLED_HDR = 'Nats-Consumer-Stalled';
const LAST_CONSUMER_HDR = 'Nats-Last-Consumer';
const KV_OP_HDR = 'KV-Operation';

export class KvFeed {
  readonly #o: FeedOptions;
  readonly #hbMs: number;
  readonly #base = createInbox();
  #sub: Subscription | undefined;
  readonly #prefix: string;
  #serial = 0;
  /** The consumer in use (confirmed), and the one being created or in use (`#pending`). */
  #consumer: string | undefined;
  #pending = '';
  #deliver = '';
  /** Messages that arrived before the consumer's creation was confirmed. */
  #early: Msg[] | undefined;
  #lastDelivery = 0;
  /** Last stream sequence handed to onEntry: where a recreated consumer resumes. */
  #cursor = 0;
  #initialLeft = 0;
  #inInitial: boolean;
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #recreating = false;
  #stopped = false;

  constructor(o: FeedOptions) {
    this.#o = o;
    this.#hbMs = o.heartbeatMs ?? 1000;
    this.#prefix = `$KV.${o.bucket}.`;
    this.#inInitial = o.initial;
  }

  /** Create the first consumer; rejects (and stops) if that fails. */
  async start(): Promise<void> {
    try {
      await this.#create(this.#o.initial ? DeliverPolicy.LastPerSubject : DeliverPolicy.New);
    } catch (err) {
      this.stop();
      throw err;
    }
    this.#timer = setInterval(() => this.#checkLiveness(), this.#hbMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#o.nc.isClosed()) return;
    unsubscribeQuietly(this.#sub);
    this.#deleteConsumer(this.#consumer);
  }

  async #create(policy: DeliverPolicy): Promise<void> {
    const name = `mrdw_${this.#base.slice(this.#base.lastIndexOf('.') + 1)}_${++this.#serial}`;
    const deliver = `${this.#base}.${this.#serial}`;
    const cfg: Partial<ConsumerConfig> = {
      name,
      deliver_subject: deliver,
      deliver_policy: policy,
      filter_subject: `${this.#prefix}${this.#o.key}`,
      max_deliver: 1,
      flow_control: true,
      idle_heartbeat: nanos(this.#hbMs),
      headers_only: this.#o.headersOnly ?? false,
      // Cleaned up by the server soon after our interest disappears (process gone).
      ...EPHEMERAL_CONSUMER,
    };
    if (policy === DeliverPolicy.StartSequence) cfg.opt_start_seq = this.#cursor + 1;
    this.#pending = name;
    this.#deliver = deliver;
    this.#lastDelivery = 0;
    this.#early = [];
    // One subscription per consumer: when a create times out but happened anyway, dropping the
    // subscription removes the orphan's interest, and the server deletes it (inactive_threshold).
    const sub = this.#o.nc.subscribe(deliver, {
      callback: (err, m) => {
        if (!err) this.#onMsg(m);
      },
    });
    let ci: ConsumerInfo;
    try {
      ci = await this.#o.jsm.consumers.add(`KV_${this.#o.bucket}`, cfg);
    } catch (err) {
      this.#early = undefined;
      unsubscribeQuietly(sub);
      throw err;
    }
    unsubscribeQuietly(this.#sub);
    this.#sub = sub;
    const old = this.#consumer;
    this.#consumer = name;
    this.#deleteConsumer(old);
    if (this.#stopped) {
      unsubscribeQuietly(sub);
      this.#deleteConsumer(name);
      return;
    }
    if (policy === DeliverPolicy.LastPerSubject) this.#initialLeft = ci.num_pending;
    if (policy === DeliverPolicy.New) this.#cursor = ci.delivered.stream_seq;
    this.#lastActivity = Date.now();
    const early = this.#early;
    this.#early = undefined;
    this.#maybeInitialDone();
    for (const m of early) this.#onMsg(m);
  }

  #deleteConsumer(name: string | undefined): void {
    deleteConsumerQuietly(this.#o.nc, this.#o.jsm, `KV_${this.#o.bucket}`, name);
  }

  #maybeInitialDone(): void {
    if (this.#inInitial && this.#initialLeft <= 0) {
      this.#inInitial = false;
      this.#o.onInitialDone?.();
    } else if (!this.#o.initial && this.#serial === 1) {
      this.#o.onInitialDone?.();
    }
  }

  #onMsg(m: Msg): void {
    if (this.#stopped) return;
    const ack = parseAckReply(m.reply);
    // Data messages carry the stored subject and name their consumer in the ack reply; control
    // messages come on the deliver subject. Either way, drop what an older consumer sent.
    if (ack ? ack.consumer !== this.#pending : m.subject !== this.#deliver) return;
    if (this.#early) {
      this.#early.push(m);
      return;
    }
    this.#lastActivity = Date.now();
    if (!ack) {
      this.#onControl(m);
      return;
    }
    if (ack.deliverySeq !== this.#lastDelivery + 1) {
      this.#recreate();
      return;
    }
    this.#lastDelivery = ack.deliverySeq;
    const initial = this.#inInitial;
    // Counted before de-duplication: the snapshot size covers redelivered entries too.
    if (initial) this.#initialLeft--;
    if (ack.streamSeq <= this.#cursor) {
      // Already delivered by an earlier consumer of this feed.
      if (initial) this.#maybeInitialDone();
      return;
    }
    this.#cursor = ack.streamSeq;
    const op = m.headers?.get(KV_OP_HDR);
    this.#o.onEntry(
      {
        bucket: this.#o.bucket,
        key: m.subject.slice(this.#prefix.length),
        value: op ? EMPTY : m.data,
        revision: ack.streamSeq,
        created: ack.timestampMs,
        operation: op === 'DEL' || op === 'PURGE' ? 'DEL' : 'PUT',
      },
      initial,
    );
    if (initial) this.#maybeInitialDone();
  }

  /** Flow control, heartbeats and consumer status messages (no ack reply). */
  #onControl(m: Msg): void {
    const h = m.headers;
    if (!h) return;
    if (h.code === 100 && m.reply) {
      m.respond(); // flow control request
      return;
    }
    if (h.code === 100) {
      const stalled = h.get(STALLED_HDR);
      if (stalled && !this.#o.nc.isClosed()) this.#o.nc.publish(stalled); // un-stall delivery
      const last = Number(h.get(LAST_CONSUMER_HDR) || '0');
      if (last > this.#lastDelivery) this.#recreate(); // deliveries were lost on the way
      return;
    }
    if (h.code === 409) this.#recreate(); // consumer deleted
  }

  #checkLiveness(): void {
    if (this.#stopped || this.#recreating) return;
    if (Date.now() - this.#lastActivity > 3 * this.#hbMs) this.#recreate();
  }

  #recreate(): void {
    if (this.#stopped || this.#recreating) return;
    this.#recreating = true;
    void (async () => {
      let delay = this.#hbMs / 2;
      while (!this.#stopped) {
        try {
          const policy = this.#inInitial ? DeliverPolicy.LastPerSubject : DeliverPolicy.StartSequence;
          await this.#create(policy);
          break;
        } catch (err) {
          this.#o.onError?.(err);
          await new Promise((r) => setTimeout(r, delay).unref());
          delay = Math.min(delay * 2, 4 * this.#hbMs);
        }
      }
      this.#recreating = false;
    })();
  }
}
