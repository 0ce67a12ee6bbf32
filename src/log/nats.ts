/**
 * `NatsMessageLog`: the `MessageLog` on JetStream, homed in one region of the super-cluster.
 *
 * Two file-stored streams, both placed in the home region's cluster (`placement.cluster`) and
 * reached from every other region through the gateways:
 * - `MRD_LOG_<log>` on `mrd.log.<log>.<conversation>`: the entries (max_age,
 *   max_msgs_per_subject and duplicate_window carry retention and dedupe);
 * - `MRD_LOGHEAD_<log>` on `mrd.loghead.<log>.<conversation>`: one message per conversation,
 *   its highest seq, so the counter outlives entries removed by retention or erasure.
 *
 * Who assigns seqs, and why not the stream sequence: a stream's sequence is shared by every
 * conversation in it, so per conversation it has gaps; a stream per conversation would give
 * dense numbers but millions of streams (each a Raft group in a cluster). Instead the appender
 * reads the conversation's last entry (`last_by_subj`) and head, takes `max + 1`, and publishes
 * with `Nats-Expected-Last-Subject-Sequence` = the last entry's stream sequence. The home
 * server applies that check in its single apply order, so of two appenders that read the same
 * last entry exactly one wins; the other gets "wrong last sequence", re-reads and retries with
 * jitter. Dedupe is the server's `Nats-Msg-Id` (`<conversation>/<id>`), checked before the
 * sequence check, so a retry is recognised whatever seq it carries. After the entry is stored the
 * head is raised with a compare-and-set (never lowered). Erasure raises the head before deleting.
 * The one case where a seq could come round again: a process dies between storing an entry and
 * raising the head, no later append happens, and age retention then removes every entry of the
 * conversation. Any later append or erasure in the conversation closes that window.
 *
 * `store` (replication) publishes like append, with the entry's own seq, id and timestamp in the
 * meta header, `Nats-Msg-Id` = `<conversation>/<id>` (so the id dedupes later appends here) and
 * the same expected-last-subject-sequence check, and only when the seq is `last + 1`; then it
 * raises the head. A seq at or below `last` is looked up by binary search (as reads do) to tell a
 * re-send (same id: nothing to do) from a conflict. Should the server's dedupe answer with
 * another entry (the id was used before at another seq: the source reused it after its dedupe
 * window, or an append here took it), the entry is published again without `Nats-Msg-Id`; a
 * later append retry with that id then finds the earlier entry (SQLite: the later one).
 * Unlike SQLite, the server measures the dedupe window (and, without a `retention` function, the
 * stream's `max_age`) from when the copy was stored here, not from the entry's timestamp: on a
 * replica an id is remembered up to the replication delay longer. Reads hide entries beyond
 * their conversation's policy by the entry's own seq and timestamp, as SQLite does.
 *
 * Retention: without a `retention` function the global options are stream limits (`max_age`,
 * `max_msgs_per_subject`); with one the stream has none and nats-retention.ts sweeps each
 * conversation by its own policy. `storeMany` carries the conversation's last stream
 * sequence from one publish to the next (no re-reads) and raises each head once at the end.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { ensureStream, getLast, getNext, isWrongLastSequence, openJetStream } from '../nats/mod.js';
import type { JetStreamApi } from '../nats/mod.js';
import { subjects, token } from '../bus/subjects.js';
import { logStreams } from '../placement/mod.js';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { eraseSender } from './nats-erase.js';
import { fetchFrom, findLast, findStart } from './nats-read.js';
import { RetentionSweeper, findFirstWhere } from './nats-retention.js';
import { metaHeaders, metaOf, readHead, streamConfigs, toLogError } from './nats-store.js';
import type { EntryMeta, Head } from './nats-store.js';
import { beyond, countFloor, limitsOf, minTimestamp } from './retention.js';
import type { Limits } from './retention.js';
import type { AppendInput, AppendResult, LogEntry, LogOptions, MessageLog, ReadOptions, StoreManyResult, StoreResult, StoreOptions } from './types.js';
import { assertConversation, batchError, checkAppend, checkBatch, checkFrom, checkLogOptions, checkRead, checkStore, closedError, decodeBody, outOfOrder } from './validate.js';
import type { CheckedLogOptions, EncodedStore } from './validate.js';
import { StreamPositions } from './nats-positions.js';

export interface NatsLogOptions extends LogOptions {
  /** A connection to any region of the super-cluster; borrowed, `close()` leaves it open. */
  nc: NatsConnection;
  /** The log's name, 1-32 characters of `[A-Za-z0-9_-]`; it names the streams. */
  name: string;
  /** The region (NATS cluster) that holds the streams. */
  home: string;
  /** Stream replicas within the home cluster. Default 1. */
  replicas?: number;
  /** Timeout of each JetStream call. Default 5000 ms. */
  timeoutMs?: number;
  /** Appends that lose the seq race this often in a row fail with LOG_CONTENTION. Default 100. */
  maxAttempts?: number;
  /** With a `retention` function: how often the retention sweep runs. Default 5000 ms. */
  sweepIntervalMs?: number;
  /** With a `retention` function: conversations looked at per sweep tick. Default 200. */
  sweepBatch?: number;
  /** A sweep tick failed (the next one retries). */
  onSweepError?: (err: unknown) => void;
}

/** Where a conversation ends, as a store needs it. */
interface Tail {
  /** The conversation's `last()`: the higher of the last entry's seq and the head. */
  seq: number;
  /** Stream sequence of the subject's last message (0: none), for the expected-last check. */
  streamSeq: number;
  head: Head;
  /** The last message as read; undefined when the tail was carried over from a publish. */
  msg?: StoredMsg | null;
}

export class NatsMessageLog implements MessageLog {
  readonly name: string;
  readonly home: string;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #opts: CheckedLogOptions;
  readonly #sweeper: RetentionSweeper | undefined;
  readonly #stream: string;
  readonly #headStream: string;
  /** Recent entries' stream positions: reads that start just past one skip the search. */
  readonly #positions = new StreamPositions();
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  #closed = false;

  constructor(o: NatsLogOptions, { js, jsm }: JetStreamApi, opts: CheckedLogOptions) {
    this.name = o.name;
    this.home = o.home;
    this.#timeoutMs = o.timeoutMs ?? 5000;
    this.#maxAttempts = o.maxAttempts ?? 100;
    this.#nc = o.nc;
    this.#js = js;
    this.#jsm = jsm;
    this.#opts = opts;
    ({ stream: this.#stream, headStream: this.#headStream } = logStreams(o.name));
    this.#sweeper =
      opts.retention === undefined
        ? undefined
        : new RetentionSweeper(
            {
              jsm,
              stream: this.#stream,
              filter: subjects.allLog(o.name),
              limits: (c) => this.#limits(c),
              headSeq: async (c) => (await this.#head(c)).seq,
              raiseHead: async (c, seq) => this.#raiseHead(c, seq, await this.#head(c)),
            },
            o.sweepIntervalMs ?? 5000,
            Math.max(1, o.sweepBatch ?? 200),
            o.onSweepError ?? (() => undefined),
          );
  }

  /** Run one retention sweep tick now (tests; the timer runs them anyway). */
  async sweep(): Promise<void> {
    await this.#sweeper?.tick();
  }

  append(conversation: string, input: AppendInput): Promise<AppendResult> {
    return this.#call({ conversation }, async () => {
      const e = checkAppend(conversation, input, this.#opts.maxBodyBytes);
      const subject = subjects.log(this.name, conversation);
      const msgID = e.keyed ? `${token(conversation)}/${e.id}` : undefined;
      for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
        const [last, head] = await Promise.all([getLast(this.#jsm, this.#stream, subject), this.#head(conversation)]);
        const seq = Math.max(last ? metaOf(last.header).seq : 0, head.seq, e.minSeq - 1) + 1;
        const ts = Date.now();
        let ack;
        try {
          ack = await this.#js.publish(subject, e.body, {
            headers: metaHeaders({ seq, id: e.id, from: e.from, ts, kind: e.kind, h: e.headers }, undefined),
            ...(msgID === undefined ? {} : { msgID }),
            expect: { lastSubjectSequence: last?.seq ?? 0 },
          });
        } catch (err) {
          if (!isWrongLastSequence(err)) throw err;
          // Another appender took this seq: re-read and try again, spread out a little.
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(2 + attempt, 20)));
          continue;
        }
        if (ack.duplicate) return this.#original(conversation, subject, ack.seq, e.id, head);
        this.#positions.note(conversation, seq, ack.seq);
        await this.#raiseHead(conversation, seq, head);
        return { conversation, seq, id: e.id, timestamp: ts, duplicate: false };
      }
      throw new MeridianError(ErrorCode.LogContention, `gave up after ${this.#maxAttempts} lost races for the next seq`, { details: { conversation } });
    });
  }

  store(entry: LogEntry, opts: StoreOptions = {}): Promise<StoreResult> {
    return this.#call({ conversation: conversationOf(entry) }, async () => {
      const e = checkStore(entry, this.#opts.maxBodyBytes);
      const r = await this.#storeOne(e, undefined, true, opts.allowGap?.(entry) === true);
      return { stored: r.stored, last: r.tail.seq };
    });
  }

  storeMany(entries: readonly LogEntry[], opts: StoreOptions = {}): Promise<StoreManyResult> {
    return this.#call({}, async () => {
      const list = checkBatch(entries);
      let stored = 0;
      let skipped = 0;
      let last = 0;
      const tails = new Map<string, Tail>();
      let failed = false;
      try {
        for (const [index, entry] of list.entries()) {
          try {
            const e = checkStore(entry, this.#opts.maxBodyBytes);
            const r = await this.#storeOne(e, tails.get(e.conversation), false, opts.allowGap?.(entry) === true);
            tails.set(e.conversation, r.tail);
            if (r.stored) stored++;
            else skipped++;
            last = r.tail.seq;
          } catch (err) {
            failed = true;
            throw batchError(toLogError(err, { conversation: conversationOf(entry) }, this.#closed), index, stored);
          }
        }
      } finally {
        for (const [conversation, t] of tails) {
          // After a failure the batch's own error is the one to report.
          await this.#raiseHead(conversation, t.seq, t.head).catch((err: unknown) => {
            if (!failed) throw err;
          });
        }
      }
      return { stored, skipped, last };
    });
  }

  read(conversation: string, opts?: ReadOptions): Promise<LogEntry[]> {
    return this.#call({ conversation }, async () => {
      const { after, limit } = checkRead(conversation, opts);
      const subject = subjects.log(this.name, conversation);
      const l = this.#limits(conversation);
      const [found, head] = await Promise.all([getLast(this.#jsm, this.#stream, subject), l.maxCount > 0 ? this.#head(conversation) : undefined]);
      const last = found ?? (await findLast(this.#jsm, this.#stream, subject));
      if (!last) return [];
      const lastSeq = Math.max(metaOf(last.header).seq, head?.seq ?? 0);
      const floor = Math.max(after, countFloor(l, lastSeq));
      const known = metaOf(last.header).seq > floor ? this.#positions.of(conversation, floor + 1) : undefined;
      let start = known ?? (await findStart(this.#jsm, this.#stream, subject, last, floor));
      const out: LogEntry[] = [];
      const now = Date.now();
      while (start !== null && out.length < limit) {
        const batch = await fetchFrom(this.#nc, this.#jsm, this.#stream, subject, { start, end: last.seq }, limit - out.length, this.#timeoutMs);
        for (const r of batch.entries) {
          // Sweeps (the server's, or ours) run on timers; never hand out an entry beyond its policy meanwhile.
          if (this.#expired(r.storedMs) || beyond(l, r.meta.seq, r.meta.ts, lastSeq, now)) continue;
          this.#positions.note(conversation, r.meta.seq, r.streamSeq);
          out.push({ conversation, seq: r.meta.seq, id: r.meta.id, from: r.meta.from, timestamp: r.meta.ts, body: decodeBody(r.meta.kind, r.data), headers: r.meta.h });
        }
        start = batch.done ? null : batch.next;
      }
      return out;
    });
  }

  last(conversation: string): Promise<number> {
    return this.#call({ conversation }, async () => {
      assertConversation(conversation);
      const [last, head] = await Promise.all([getLast(this.#jsm, this.#stream, subjects.log(this.name, conversation)), this.#head(conversation)]);
      return Math.max(last ? metaOf(last.header).seq : 0, head.seq);
    });
  }

  firstAvailable(conversation: string): Promise<number> {
    return this.#call({ conversation }, async () => {
      assertConversation(conversation);
      const subject = subjects.log(this.name, conversation);
      const l = this.#limits(conversation);
      const lastSeq = await this.last(conversation);
      const floor = countFloor(l, lastSeq);
      const minTs = minTimestamp(l, Date.now());
      const out = (m: StoredMsg): boolean => {
        const meta = metaOf(m.header);
        return this.#expired(m.time.getTime()) || meta.seq <= floor || meta.ts < minTs;
      };
      let m = await getNext(this.#jsm, this.#stream, subject, 1);
      if (m && out(m)) {
        // Skip what the policy puts beyond, by binary search (a sweep may not have run yet).
        const last = (await getLast(this.#jsm, this.#stream, subject)) ?? (await findLast(this.#jsm, this.#stream, subject));
        const from = last ? await findFirstWhere(this.#jsm, this.#stream, subject, { from: m.seq, to: last.seq }, (x) => x.seq > floor && x.ts >= minTs) : null;
        m = from === null ? null : await getNext(this.#jsm, this.#stream, subject, from);
        while (m && out(m)) m = await getNext(this.#jsm, this.#stream, subject, m.seq + 1);
      }
      return m ? metaOf(m.header).seq : lastSeq + 1;
    });
  }

  erase(conversation: string): Promise<number> {
    return this.#call({ conversation }, async () => {
      assertConversation(conversation);
      const subject = subjects.log(this.name, conversation);
      // No early return when `last` is missing: nats-server 2.9 can lose it (see nats-read.ts).
      const last = await getLast(this.#jsm, this.#stream, subject);
      if (last) await this.#raiseHead(conversation, metaOf(last.header).seq, await this.#head(conversation));
      const r = await this.#jsm.streams.purge(this.#stream, { filter: subject });
      return r.purged;
    });
  }

  eraseFrom(from: string): Promise<number> {
    return this.#call({ from }, async () => {
      checkFrom(from);
      return eraseSender({
        nc: this.#nc,
        jsm: this.#jsm,
        stream: this.#stream,
        log: this.name,
        timeoutMs: this.#timeoutMs,
        raiseHead: async (conversation, seq) => this.#raiseHead(conversation, seq, await this.#head(conversation)),
      }, from);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#sweeper?.close();
    return Promise.resolve();
  }

  /** Beyond the stream's own `max_age` (set only without a `retention` function). */
  #expired(storedMs: number): boolean {
    return this.#opts.retention === undefined && this.#opts.maxAgeMs > 0 && storedMs < Date.now() - this.#opts.maxAgeMs;
  }

  #limits(conversation: string): Limits {
    return limitsOf(this.#opts, conversation);
  }

  #head(conversation: string): Promise<Head> {
    return readHead(this.#jsm, this.#headStream, subjects.logHead(this.name, conversation));
  }

  /** Compare-and-set the head up to `seq`; never lowers it. */
  async #raiseHead(conversation: string, seq: number, known: Head): Promise<void> {
    let head = known;
    for (let attempt = 0; head.seq < seq; attempt++) {
      if (attempt >= this.#maxAttempts) throw new MeridianError(ErrorCode.LogContention, 'gave up raising the conversation head', { details: { conversation, seq } });
      try {
        await this.#js.publish(subjects.logHead(this.name, conversation), new TextEncoder().encode(String(seq)), { expect: { lastSubjectSequence: head.streamSeq } });
        return;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        head = await this.#head(conversation);
      }
    }
  }

  /**
   * One `store`. `hint`: the tail left by the previous store of a batch (trusted only for a
   * publish, which the expected-last check guards). `raise`: raise the head now (a batch raises
   * it once at the end).
   */
  async #storeOne(e: EncodedStore, hint: Tail | undefined, raise: boolean, gapOk = false): Promise<{ stored: boolean; tail: Tail }> {
    const subject = subjects.log(this.name, e.conversation);
    let msgID: string | undefined = `${token(e.conversation)}/${e.id}`;
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      let tail = hint ?? (await this.#tail(e.conversation, subject));
      hint = undefined;
      if (e.seq <= tail.seq && tail.msg === undefined) tail = await this.#tail(e.conversation, subject);
      if (e.seq <= tail.seq) {
        const have = await this.#entryAt(subject, e.seq, tail.msg ?? null);
        if (have?.id !== e.id) throw outOfOrder(e, tail.seq, have !== null);
        // A re-send. Should the head lag (a writer died before raising it), finish its job.
        if (raise) await this.#raiseHead(e.conversation, tail.seq, tail.head);
        return { stored: false, tail };
      }
      if (e.seq !== tail.seq + 1 && !gapOk) throw outOfOrder(e, tail.seq, false);
      let ack;
      try {
        ack = await this.#js.publish(subject, e.body, {
          headers: metaHeaders({ seq: e.seq, id: e.id, from: e.from, ts: e.ts, kind: e.kind, h: e.headers }, undefined),
          ...(msgID === undefined ? {} : { msgID }),
          expect: { lastSubjectSequence: tail.streamSeq },
        });
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        // Someone else wrote to the conversation meanwhile: re-read, then decide again.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(2 + attempt, 20)));
        continue;
      }
      if (ack.duplicate) {
        const m = await this.#jsm.streams.getMessage(this.#stream, { seq: ack.seq });
        if (m && m.subject === subject && metaOf(m.header).seq === e.seq) {
          // The same entry, stored by a concurrent store of it.
          if (raise) await this.#raiseHead(e.conversation, e.seq, tail.head);
          return { stored: false, tail: { seq: e.seq, streamSeq: ack.seq, head: tail.head } };
        }
        // The server remembers the id for another (earlier, or since removed) entry: store this
        // one without its dedupe. The re-read on the next round catches any change meanwhile.
        msgID = undefined;
        continue;
      }
      if (raise) await this.#raiseHead(e.conversation, e.seq, tail.head);
      this.#positions.note(e.conversation, e.seq, ack.seq);
      return { stored: true, tail: { seq: e.seq, streamSeq: ack.seq, head: tail.head } };
    }
    throw new MeridianError(ErrorCode.LogContention, `gave up after ${this.#maxAttempts} lost races for seq ${e.seq}`, { details: { conversation: e.conversation, seq: e.seq } });
  }

  async #tail(conversation: string, subject: string): Promise<Tail> {
    const [msg, head] = await Promise.all([getLast(this.#jsm, this.#stream, subject), this.#head(conversation)]);
    return { seq: Math.max(msg ? metaOf(msg.header).seq : 0, head.seq), streamSeq: msg?.seq ?? 0, head, msg };
  }

  /** The meta of the stored entry with conversation seq `seq`, or null if none is stored. */
  async #entryAt(subject: string, seq: number, lastMsg: StoredMsg | null): Promise<EntryMeta | null> {
    // No shortcut when `last` is missing: nats-server 2.9 can lose it (see nats-read.ts).
    const last = lastMsg ?? (await findLast(this.#jsm, this.#stream, subject));
    if (!last) return null;
    const lastMeta = metaOf(last.header);
    if (lastMeta.seq <= seq) return lastMeta.seq === seq ? lastMeta : null;
    const pos = await findStart(this.#jsm, this.#stream, subject, last, seq - 1);
    const m = pos === null ? null : await getNext(this.#jsm, this.#stream, subject, pos);
    const meta = m ? metaOf(m.header) : null;
    return meta?.seq === seq ? meta : null;
  }

  /** The answer to a retried append: the stored original, if it is still there. */
  async #original(conversation: string, subject: string, streamSeq: number, id: string, head: Head): Promise<AppendResult> {
    const m: StoredMsg | null = await this.#jsm.streams.getMessage(this.#stream, { seq: streamSeq });
    const meta = m && m.subject === subject ? metaOf(m.header) : undefined;
    if (!m || !meta || this.#expired(m.time.getTime()) || beyond(this.#limits(conversation), meta.seq, meta.ts, Math.max(meta.seq, head.seq, (await this.last(conversation))), Date.now())) {
      throw new MeridianError(ErrorCode.LogDuplicateGone, `message ${JSON.stringify(id)} was appended before and is no longer stored`, { details: { conversation, id } });
    }
    // The original's appender may have died before raising the head: finish its job.
    await this.#raiseHead(conversation, meta.seq, head);
    return { conversation, seq: meta.seq, id: meta.id, timestamp: meta.ts, duplicate: true };
  }

  async #call<T>(details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError();
    try {
      return await fn();
    } catch (err) {
      throw toLogError(err, details, this.#closed);
    }
  }
}

function conversationOf(entry: unknown): unknown {
  return typeof entry === 'object' && entry !== null ? (entry as { conversation?: unknown }).conversation : undefined;
}

/** Create (or update the limits of) the log's streams in its home region, and open it. */
export async function openNatsLog(o: NatsLogOptions): Promise<NatsMessageLog> {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(o.name)) {
    throw new MeridianError(ErrorCode.LogInvalidArgument, 'a log name is 1-32 characters of [A-Za-z0-9_-]', { details: { name: o.name } });
  }
  const opts = checkLogOptions(o);
  try {
    // Without the account probe: the API answers from the home region, which may be another cluster.
    const api = await openJetStream(o.nc, o.timeoutMs ?? 5000);
    const cfg = streamConfigs(o.name, o.home, o.replicas ?? 1, opts);
    await ensureStream(api.jsm, cfg.log);
    await ensureStream(api.jsm, cfg.head);
    return new NatsMessageLog(o, api, opts);
  } catch (err) {
    throw toLogError(err, { name: o.name, home: o.home }, false);
  }
}
