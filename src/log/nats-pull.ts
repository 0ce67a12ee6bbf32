/**
 * A one-off pull reader over a JetStream stream: an ephemeral ack-none pull consumer, drained
 * with `no_wait` batch requests.
 *
 * Why not nats.js consumers (`js.consumers.get(...).fetch()`): their fetch has no `no_wait`, so
 * a batch that finds fewer messages than asked waits out its expiry, and on nats-server 2.9 the
 * `pending` count that could end it early over-counts after deletes; in the full test suite
 * reads then took the whole expiry (3 s) now and then. With `no_wait` the server answers with
 * what it has and then a 404 status, so a read costs two round trips (create, pull) however
 * the stream looks.
 */
import { randomBytes } from 'node:crypto';
import { createInbox } from '@nats-io/transport-node';
import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { EPHEMERAL_CONSUMER, deleteConsumerQuietly, parseAckReply } from '../nats/mod.js';

export interface PulledMsg {
  subject: string;
  /** Stream sequence. */
  seq: number;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  /** When the stream stored it (ms since the epoch, server clock). */
  storedMs: number;
}

export interface PullOptions {
  filter: string;
  /** First stream sequence to deliver. */
  start: number;
  headersOnly?: boolean;
  timeoutMs: number;
}

/** Silence after a pull that means "the request was lost", well above a cross-region RTT. */
const SILENCE_MS = 1000;

export class PullReader {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #o: PullOptions;
  #name = '';
  /** Where a recreated consumer resumes: after the last message handed out. */
  #resume: number;
  /** The server said it has nothing more (a status reply to a `no_wait` pull). */
  exhausted = false;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, stream: string, o: PullOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#stream = stream;
    this.#o = o;
    this.#resume = Math.max(1, o.start);
  }

  static async open(nc: NatsConnection, jsm: JetStreamManager, stream: string, o: PullOptions): Promise<PullReader> {
    const r = new PullReader(nc, jsm, stream, o);
    await r.#create();
    return r;
  }

  async #create(): Promise<void> {
    const name = `mrdlog_${randomBytes(8).toString('hex')}`;
    await this.#jsm.consumers.add(this.#stream, {
      name,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#resume,
      filter_subject: this.#o.filter,
      headers_only: this.#o.headersOnly ?? false,
      // Removed by the server soon after we stop using it, even if the delete below is lost.
      ...EPHEMERAL_CONSUMER,
    });
    this.#name = name;
    // The create answer comes from the meta leader; the consumer itself starts a moment later
    // on the stream's server, and a pull sent before that goes unanswered. Its own info answer
    // means it is in place.
    for (let i = 0; ; i++) {
      try {
        await this.#jsm.consumers.info(this.#stream, name);
        return;
      } catch (err) {
        if (i >= 20) throw err;
        await new Promise((r) => setTimeout(r, 10 + i * 10));
      }
    }
  }

  /**
   * Up to `max` messages, in stream order; fewer (and `exhausted`) when the server has no more.
   * Should a pull still go unanswered (lost on the way), the consumer is replaced, resuming
   * where we were, and pulled again: never re-pulled, as a late answer would skip messages.
   */
  async next(max: number): Promise<PulledMsg[]> {
    const deadline = Date.now() + this.#o.timeoutMs;
    for (;;) {
      const got = await this.#pull(max, Math.min(SILENCE_MS, Math.max(1, deadline - Date.now())));
      if (got) return got;
      if (Date.now() >= deadline) throw new Error(`no answer to a pull from ${this.#stream} within ${this.#o.timeoutMs} ms`);
      this.close();
      await this.#create();
    }
  }

  /** One pull; undefined when nothing at all came back within `waitMs`. */
  #pull(max: number, waitMs: number): Promise<PulledMsg[] | undefined> {
    const out: PulledMsg[] = [];
    const inbox = createInbox();
    return new Promise<PulledMsg[] | undefined>((resolve, reject) => {
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        sub.unsubscribe();
        if (err) reject(err);
        else resolve(out.length > 0 || this.exhausted ? out : undefined);
      };
      // Silence, or a partial batch that stopped: hand out what came (the next pull continues).
      const timer = setTimeout(() => finish(), waitMs);
      const sub = this.#nc.subscribe(inbox, {
        callback: (err, m: Msg) => {
          if (err) return finish(err);
          const info = parseAckReply(m.reply);
          if (!info) {
            // A status (404 no messages, 408 request expired): the server has nothing more.
            this.exhausted = true;
            return finish();
          }
          out.push({ subject: m.subject, seq: info.streamSeq, headers: m.headers, data: m.data, storedMs: info.timestampMs });
          this.#resume = info.streamSeq + 1;
          if (out.length >= max) finish();
        },
      });
      this.#nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.#stream}.${this.#name}`, JSON.stringify({ batch: max, no_wait: true }), { reply: inbox });
    });
  }

  /** Delete the consumer without waiting: the server drops it anyway once inactive. */
  close(): void {
    deleteConsumerQuietly(this.#nc, this.#jsm, this.#stream, this.#name);
  }
}
