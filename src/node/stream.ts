/**
 * One conversation as one connection sees it: a delivered high-water mark (`hwm`) and a queue of
 * replays, so that replays (resume, retransmit, the offline inbox, gap fills) and live messages
 * never interleave out of order or repeat.
 *
 * - live: a message at `hwm + 1` (or the first one seen) is written; at or below `hwm` it is a
 *   duplicate and skipped; above `hwm + 1` is a hole (live delivery is at-most-once) and the
 *   missing range is filled from the log before going on.
 * - busy (a replay is queued or running): live messages wait in a small buffer; when it
 *   overflows they are dropped and re-read from the log afterwards (memory stays bounded).
 * - gapped (the client could not keep up): live messages are dropped until the client asks for
 *   the gap with `retransmit` or `resume`; one `gap` frame was sent when it started.
 * - closed: the socket is closing or gone; nothing is taken any more (see `#sinkGone`).
 *
 * Nothing here may repeat without yielding: a fill from the log starts in a new event-loop turn
 * (the embedded log answers synchronously, so a promise chain alone would starve timers and I/O),
 * and a fill that brings nothing new is retried on a timer a few times, then reported as a `gap`
 * with reason `unavailable` instead of being tried again.
 */
import type { Delivery, HistoryPage, Messaging, StoredMessage } from '../messaging/types.js';
import type { RequestErrorName, ServerFrame } from '../protocol/mod.js';
import { framedDelivery } from './deliver.js';
import type { Outbound } from './deliver.js';
import type { NodeMetrics } from '../observability/metrics.js';

/**
 * What a stream needs from its connection (src/node/session/streams.ts): the socket to write
 * live messages to, the log to read, two limits, counters. Replay failures are not reported
 * here: `replay()` rejects, and whoever asked answers the client.
 */
export interface StreamHost {
  readonly out: Pick<Outbound, 'open' | 'live'>;
  readonly messaging: Pick<Messaging, 'history'>;
  readonly maxReplay: number;
  readonly replayBuffer: number;
  /** Frames out and slow-consumer gaps are counted here. */
  readonly metrics: Pick<NodeMetrics, 'framesOut' | 'slowConsumerGap'>;
  /** Write a control frame. */
  send(frame: ServerFrame): void;
  /** Write one replayed message (waits for room in the outgoing buffer); false when closed. */
  replayMessage(m: StoredMessage): Promise<boolean>;
  /** Serialize history reads of this connection (bounds memory held by replays). */
  exclusive<T>(job: () => Promise<T>): Promise<T>;
}

export interface ReplayRequest {
  /** First seq wanted. */
  readonly from: number;
  /** Last seq wanted; default the conversation's last. */
  readonly to?: number;
  /** Answer with a `resumed` frame carrying this ref (resume/retransmit). */
  readonly ref?: string;
  /** Skip seqs this connection already received (resume, inbox); retransmit sends what is asked. */
  readonly skipSent: boolean;
  /** Dotted path of the request field, for BAD_SEQUENCE errors. */
  readonly path?: string;
  /** Keep going past `maxReplay` until caught up (the offline inbox and gap fills: nobody asks for more). */
  readonly follow?: boolean;
}

type Mode = 'live' | 'busy' | 'gapped';

/** Fills in a row that may bring nothing new before the stream gives up with a `gap`. */
const FILL_ATTEMPTS = 5;
/** Wait before retrying a fill that brought nothing new (doubles each time). */
const FILL_RETRY_MS = 20;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** A replay the client asked for that cannot be served as asked (BAD_SEQUENCE). */
export class ReplayError extends Error {
  override name = 'ReplayError';
  constructor(
    readonly wire: RequestErrorName,
    message: string,
    readonly path: string | undefined,
  ) {
    super(message);
  }
}

export class ConversationStream {
  hwm: number | undefined;
  /** Seqs up to here count as delivered for live order but were never sent (before a join). */
  #unsentUpTo = 0;
  #mode: Mode = 'live';
  #buffer: Delivery[] = [];
  /** Lowest seq dropped from a full buffer; re-read from the log when the replays are done. */
  #droppedFrom: number | undefined;
  #jobs = 0;
  /** A fill from the log failed here (log or bus unreachable): tell the client rather than spin. */
  #fillFailedFrom: number | undefined;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  /** Where the last fill started and how many fills in a row brought nothing new from there. */
  #fillFrom: number | undefined;
  #fruitless = 0;

  constructor(
    readonly conversation: string,
    readonly host: StreamHost,
  ) {}

  /** Live messages start after `seq` (a join): older ones are not sent unless asked for. */
  startAfter(seq: number): void {
    if (this.hwm === undefined || this.hwm < seq) {
      this.hwm = seq;
      this.#unsentUpTo = seq;
    }
  }

  get mode(): Mode {
    return this.#mode;
  }

  get busy(): boolean {
    return this.#mode === 'busy';
  }

  close(): void {
    this.#closed = true;
    this.#buffer = [];
    this.#droppedFrom = undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The socket is closing or closed: stop here for good (true) rather than take it for a gap. */
  #sinkGone(): boolean {
    if (this.#closed) return true;
    if (this.host.out.open) return false;
    this.close();
    return true;
  }

  /** A live delivery of this conversation. */
  live(d: Delivery): void {
    if (this.#sinkGone()) return;
    if (this.#mode === 'gapped') return;
    if (this.#mode === 'busy') {
      if (this.#buffer.length < this.host.replayBuffer) this.#buffer.push(d);
      else this.#droppedFrom = Math.min(this.#droppedFrom ?? d.seq, d.seq, this.#buffer[0]?.seq ?? d.seq);
      return;
    }
    this.#deliver(d);
  }

  #deliver(d: Delivery): void {
    const hwm = this.hwm;
    if (hwm !== undefined) {
      if (d.seq <= hwm) return;
      if (d.seq > hwm + 1) {
        // A hole: fetch it from the log, then this message follows from the buffer.
        this.#buffer.push(d);
        this.#fill(hwm + 1, d.seq - 1);
        return;
      }
    }
    if (this.host.out.live(framedDelivery(d))) {
      this.host.metrics.framesOut.inc('message');
      this.hwm = d.seq;
      return;
    }
    if (this.#sinkGone()) return;
    this.#mode = 'gapped';
    this.host.metrics.slowConsumerGap();
    this.host.send({ type: 'gap', conversation: this.conversation, fromSeq: hwm === undefined ? d.seq : hwm + 1, reason: 'slow_consumer' });
  }

  /** Queue a job that holds live messages back while it runs (a replay, a join's lastSeq read). */
  run(job: () => Promise<void>): Promise<void> {
    this.#jobs++;
    this.#mode = 'busy';
    const p = this.#queue.then(async () => {
      if (!this.#sinkGone()) await job();
    });
    this.#queue = p.catch(() => undefined).finally(() => {
      if (--this.#jobs === 0) this.#settle();
    });
    return p;
  }

  #settle(): void {
    if (this.#sinkGone()) return;
    if (this.#fillFailedFrom !== undefined) {
      const fromSeq = this.#fillFailedFrom;
      this.#fillFailedFrom = undefined;
      this.#droppedFrom = undefined;
      this.#buffer = [];
      this.#mode = 'gapped';
      this.host.send({ type: 'gap', conversation: this.conversation, fromSeq, reason: 'unavailable' });
      return;
    }
    if (this.#droppedFrom !== undefined) {
      const from = Math.min(this.#droppedFrom, (this.hwm ?? this.#droppedFrom - 1) + 1);
      this.#droppedFrom = undefined;
      this.#buffer = [];
      this.#fill(from, undefined);
      return;
    }
    this.#mode = 'live';
    const pending = this.#buffer;
    this.#buffer = [];
    for (const d of pending) {
      if (this.#mode === 'live') this.#deliver(d);
      else if (this.#mode === 'busy') this.#buffer.push(d);
    }
  }

  /** Server-initiated replay of a range live delivery missed (no `resumed` frame). */
  #fill(from: number, to: number | undefined): void {
    // The same hole again, with nothing delivered since the last fill: the log does not have it
    // (yet). Retry a few times on a timer, then tell the client instead of asking forever.
    if (this.#fillFrom === from) this.#fruitless++;
    else {
      this.#fillFrom = from;
      this.#fruitless = 0;
    }
    if (this.#fruitless >= FILL_ATTEMPTS) {
      this.#fillFrom = undefined;
      this.#fruitless = 0;
      this.#fillFailedFrom = from;
      void this.run(() => Promise.resolve());
      return;
    }
    const delayMs = this.#fruitless === 0 ? 0 : FILL_RETRY_MS << (this.#fruitless - 1);
    this.#background(to === undefined ? { from, skipSent: true, follow: true } : { from, to, skipSent: true, follow: true }, delayMs);
  }

  /** A replay nobody asked for: a failure ends in a `gap` (see #settle), not an error frame. */
  #background(req: ReplayRequest, delayMs = 0): void {
    void this.run(async () => {
      // Never chain fills in one turn: let timers, I/O and the socket's close event run first.
      await (delayMs > 0 ? sleep(delayMs) : nextTurn());
      if (this.#sinkGone()) return;
      try {
        await this.replay(req);
      } catch {
        this.#fillFailedFrom = Math.min(this.#fillFailedFrom ?? req.from, (this.hwm ?? req.from - 1) + 1);
      }
    });
  }

  /**
   * Replay `from..to` from the log: one `resumed` first when `ref` is set, then the messages.
   * Call it inside `run()` so live messages wait.
   */
  async replay(req: ReplayRequest): Promise<void> {
    const { host } = this;
    const collected = await host.exclusive(async () => {
      const limit = Math.min(1000, host.maxReplay);
      let page: HistoryPage = await host.messaging.history(this.conversation, { after: req.from - 1, limit });
      const lastSeq = page.lastSeq;
      const firstAvailable = page.firstAvailable;
      const to = Math.min(req.to ?? lastSeq, lastSeq);
      const messages: StoredMessage[] = [];
      let done = false;
      for (;;) {
        for (const m of page.messages) {
          if (m.seq > to || messages.length >= host.maxReplay) {
            done = true;
            break;
          }
          messages.push(m);
        }
        const lastRead = page.messages[page.messages.length - 1]?.seq;
        // A short page is not the end: a page forwarded from another region is cut to fit one bus message.
        if (done || messages.length >= host.maxReplay || lastRead === undefined || lastRead >= to) break;
        page = await host.messaging.history(this.conversation, { after: lastRead, limit: Math.min(limit, host.maxReplay - messages.length) });
      }
      return { messages, lastSeq, firstAvailable, to, reservedUpTo: page.reservedUpTo };
    });
    const { messages, lastSeq, to, reservedUpTo } = collected;
    // A position past the end is an error (a wiped log), unless a failover left seqs the old
    // home handed out past the new owner's copy: then there is simply nothing to replay yet.
    if (req.from > lastSeq + 1 && !(reservedUpTo !== undefined && req.from <= reservedUpTo + 1)) {
      throw new ReplayError('BAD_SEQUENCE', `${req.path ?? 'fromSeq'}: beyond the conversation's last seq ${lastSeq}`, req.path);
    }
    const full = messages.length >= host.maxReplay;
    const toSeq = full ? messages[messages.length - 1]!.seq : Math.max(to, req.from - 1);
    let expected = req.from;
    let holes = false;
    for (const m of messages) {
      if (m.seq !== expected) holes = true;
      expected = m.seq + 1;
    }
    if (expected <= toSeq) holes = true;
    if (req.ref !== undefined) {
      const fromSeq = holes ? (messages[0]?.seq ?? toSeq + 1) : req.from;
      host.send({ type: 'resumed', ref: req.ref, conversation: this.conversation, recovered: !holes, ...(holes ? { reason: 'history_gone' } : {}), fromSeq, toSeq, lastSeq });
    }
    for (const m of messages) {
      if (req.skipSent && this.hwm !== undefined && m.seq <= this.hwm && m.seq > this.#unsentUpTo) continue;
      if (!(await host.replayMessage(m))) {
        // Closed under us: nothing more will be written, and nothing is waiting for it.
        this.close();
        return;
      }
      if (this.hwm === undefined || m.seq > this.hwm) this.hwm = m.seq;
    }
    if (toSeq >= this.#unsentUpTo && req.from <= this.#unsentUpTo + 1) this.#unsentUpTo = Math.min(this.#unsentUpTo, req.from - 1);
    // Seqs in the range that are gone from the log will never come: do not wait for them.
    if (req.skipSent && toSeq >= req.from && (this.hwm === undefined || this.hwm < toSeq)) this.hwm = toSeq;
    // Queued before this job ends, so live messages keep waiting until the replay has caught up.
    if (req.follow && full && toSeq < (req.to ?? lastSeq)) {
      this.#background(req.to === undefined ? { from: toSeq + 1, skipSent: true, follow: true } : { from: toSeq + 1, to: req.to, skipSent: true, follow: true });
    }
  }
}
