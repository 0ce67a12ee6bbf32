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
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { subjects, token } from '../bus/subjects.js';
import { logStreams } from '../placement/mod.js';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { eraseSender } from './nats-erase.js';
import { fetchFrom, findLast, findStart } from './nats-read.js';
import { ensureStream, getLast, getNext, isWrongLastSequence, metaHeaders, metaOf, readHead, streamConfigs, toLogError } from './nats-store.js';
import type { Head } from './nats-store.js';
import type { AppendInput, AppendResult, LogEntry, LogOptions, MessageLog, ReadOptions } from './types.js';
import { assertConversation, checkAppend, checkFrom, checkLogOptions, checkRead, closedError, decodeBody } from './validate.js';

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
}

export class NatsMessageLog implements MessageLog {
  readonly name: string;
  readonly home: string;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #opts: Required<LogOptions>;
  readonly #stream: string;
  readonly #headStream: string;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  #closed = false;

  constructor(o: NatsLogOptions, jsm: JetStreamManager, opts: Required<LogOptions>) {
    this.name = o.name;
    this.home = o.home;
    this.#timeoutMs = o.timeoutMs ?? 5000;
    this.#maxAttempts = o.maxAttempts ?? 100;
    this.#nc = o.nc;
    this.#js = jetstream(o.nc, { timeout: this.#timeoutMs });
    this.#jsm = jsm;
    this.#opts = opts;
    ({ stream: this.#stream, headStream: this.#headStream } = logStreams(o.name));
  }

  append(conversation: string, input: AppendInput): Promise<AppendResult> {
    return this.#call({ conversation }, async () => {
      const e = checkAppend(conversation, input, this.#opts.maxBodyBytes);
      const subject = subjects.log(this.name, conversation);
      const msgID = e.keyed ? `${token(conversation)}/${e.id}` : undefined;
      for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
        const [last, head] = await Promise.all([getLast(this.#jsm, this.#stream, subject), this.#head(conversation)]);
        const seq = Math.max(last ? metaOf(last.header).seq : 0, head.seq) + 1;
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
        await this.#raiseHead(conversation, seq, head);
        return { conversation, seq, id: e.id, timestamp: ts, duplicate: false };
      }
      throw new MeridianError(ErrorCode.LogContention, `gave up after ${this.#maxAttempts} lost races for the next seq`, { details: { conversation } });
    });
  }

  read(conversation: string, opts?: ReadOptions): Promise<LogEntry[]> {
    return this.#call({ conversation }, async () => {
      const { after, limit } = checkRead(conversation, opts);
      const subject = subjects.log(this.name, conversation);
      const last = (await getLast(this.#jsm, this.#stream, subject)) ?? (await findLast(this.#jsm, this.#stream, subject));
      if (!last) return [];
      let start = await findStart(this.#jsm, this.#stream, subject, last, after);
      const out: LogEntry[] = [];
      while (start !== null && out.length < limit) {
        const batch = await fetchFrom(this.#nc, this.#jsm, this.#stream, subject, { start, end: last.seq }, limit - out.length, this.#timeoutMs);
        for (const r of batch.entries) {
          // The server removes aged entries on its own timer; never hand one out meanwhile.
          if (this.#expired(r.storedMs)) continue;
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
      let m = await getNext(this.#jsm, this.#stream, subject, 1);
      while (m && this.#expired(m.time.getTime())) m = await getNext(this.#jsm, this.#stream, subject, m.seq + 1);
      return m ? metaOf(m.header).seq : (await this.last(conversation)) + 1;
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
    return Promise.resolve();
  }

  #expired(storedMs: number): boolean {
    return this.#opts.maxAgeMs > 0 && storedMs < Date.now() - this.#opts.maxAgeMs;
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

  /** The answer to a retried append: the stored original, if it is still there. */
  async #original(conversation: string, subject: string, streamSeq: number, id: string, head: Head): Promise<AppendResult> {
    const m: StoredMsg | null = await this.#jsm.streams.getMessage(this.#stream, { seq: streamSeq });
    if (!m || m.subject !== subject || this.#expired(m.time.getTime())) {
      throw new MeridianError(ErrorCode.LogDuplicateGone, `message ${JSON.stringify(id)} was appended before and is no longer stored`, { details: { conversation, id } });
    }
    const meta = metaOf(m.header);
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

/** Create (or update the limits of) the log's streams in its home region, and open it. */
export async function openNatsLog(o: NatsLogOptions): Promise<NatsMessageLog> {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(o.name)) {
    throw new MeridianError(ErrorCode.LogInvalidArgument, 'a log name is 1-32 characters of [A-Za-z0-9_-]', { details: { name: o.name } });
  }
  const opts = checkLogOptions(o);
  try {
    // checkAPI off: the API answers from the home region, which may be another cluster.
    const jsm = await jetstreamManager(o.nc, { timeout: o.timeoutMs ?? 5000, checkAPI: false });
    const cfg = streamConfigs(o.name, o.home, o.replicas ?? 1, opts);
    await ensureStream(jsm, cfg.log);
    await ensureStream(jsm, cfg.head);
    return new NatsMessageLog(o, jsm, opts);
  } catch (err) {
    throw toLogError(err, { name: o.name, home: o.home }, false);
  }
}
