/**
 * Per-conversation retention of the NATS message log (retention.ts has the policy).
 *
 * Why not the stream's own limits: `max_age` and `max_msgs_per_subject` apply to every
 * conversation of the stream alike, and nats-server 2.9 has no per-subject limits (per-message
 * TTL came in 2.11). So with a `retention` function the log stream carries no limits, reads hide
 * what a conversation's policy puts beyond it, and this sweep removes the stored messages with
 * the one 2.9 call that does it for a subject: a purge with `filter` (the conversation's subject)
 * and `seq` (everything on it below that stream position goes). Where the cut falls is found by
 * binary search over `next_by_subj` lookups, as reads find `after` (nats-read.ts): entries of a
 * subject are in seq order and, written by one owner at a time, in timestamp order.
 *
 * A cycle lists the log's subjects once (stream info with a subjects filter, paged by nats.js);
 * each tick looks at a bounded slice of that list, going on from where the previous tick stopped. Before a purge
 * could remove a conversation's last entry the head is raised to it, so the seq counter outlives
 * the entries.
 */
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { untoken } from '../bus/subjects.js';
import { countFloor, minTimestamp, unlimited } from './retention.js';
import type { Limits } from './retention.js';
import { findLast } from './nats-read.js';
import { getLast, getNext } from '../nats/mod.js';
import { metaOf } from './nats-store.js';
import type { EntryMeta } from './nats-store.js';

export interface SweepContext {
  jsm: JetStreamManager;
  stream: string;
  /** The subject filter of every conversation of the log (`mrd.log.<log>.*`). */
  filter: string;
  limits(conversation: string): Limits;
  /** The conversation's head (highest seq recorded; may be past the last entry). */
  headSeq(conversation: string): Promise<number>;
  raiseHead(conversation: string, seq: number): Promise<void>;
}

/**
 * Smallest stream position p in [from, to] such that the first message on `subject` at or after
 * p satisfies `ok` (false up to some position, then true), or null when none does.
 */
export async function findFirstWhere(jsm: JetStreamManager, stream: string, subject: string, range: { from: number; to: number }, ok: (m: EntryMeta) => boolean): Promise<number | null> {
  const first = await getNext(jsm, stream, subject, range.from);
  if (!first || first.seq > range.to) return null;
  if (ok(metaOf(first.header))) return first.seq;
  let lo = first.seq + 1;
  let hi = range.to + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await getNext(jsm, stream, subject, mid);
    if (!m || m.seq > range.to || ok(metaOf(m.header))) hi = mid;
    else lo = m.seq + 1;
  }
  return lo > range.to ? null : lo;
}

/** What one conversation's cut is: the stream position from which entries stay (null: none stay). */
export async function keepFrom(jsm: JetStreamManager, stream: string, subject: string, l: Limits, last: StoredMsg, lastSeq: number, now: number): Promise<number | null> {
  const floor = countFloor(l, lastSeq);
  const minTs = minTimestamp(l, now);
  return findFirstWhere(jsm, stream, subject, { from: 1, to: last.seq }, (m) => m.seq > floor && m.ts >= minTs);
}

/** Apply the policy to one conversation's stored messages. Returns how many were removed. */
export async function sweepConversation(ctx: SweepContext, subject: string, now: number): Promise<number> {
  const conversation = untoken(subject.slice(subject.lastIndexOf('.') + 1));
  const l = ctx.limits(conversation);
  if (unlimited(l)) return 0;
  const first = await getNext(ctx.jsm, ctx.stream, subject, 1);
  if (!first) return 0;
  const firstMeta = metaOf(first.header);
  // No shortcut when `last` is missing: nats-server 2.9 can lose it (see nats-read.ts).
  const last = (await getLast(ctx.jsm, ctx.stream, subject)) ?? (await findLast(ctx.jsm, ctx.stream, subject));
  if (!last) return 0;
  const lastSeq = Math.max(metaOf(last.header).seq, await ctx.headSeq(conversation));
  // The oldest entry is still within the policy: nothing to do (the common case, cheaply).
  if (firstMeta.seq > countFloor(l, lastSeq) && firstMeta.ts >= minTimestamp(l, now)) return 0;
  const from = await keepFrom(ctx.jsm, ctx.stream, subject, l, last, lastSeq, now);
  if (from === null) {
    // Every entry goes: the head must hold the counter first.
    await ctx.raiseHead(conversation, lastSeq);
    return (await ctx.jsm.streams.purge(ctx.stream, { filter: subject })).purged;
  }
  if (from <= first.seq) return 0;
  return (await ctx.jsm.streams.purge(ctx.stream, { filter: subject, seq: from })).purged;
}

/** Runs `sweepConversation` over a slice of the log's conversations per tick until closed. */
export class RetentionSweeper {
  readonly #ctx: SweepContext;
  readonly #batch: number;
  readonly #timer: NodeJS.Timeout;
  /** The log's subjects as listed at the start of the current cycle, and where the next tick goes on. */
  #subjects: string[] = [];
  #offset = 0;
  #running = false;
  #closed = false;
  /** Messages removed since the start (tests, metrics). */
  removed = 0;

  constructor(ctx: SweepContext, intervalMs: number, batch: number, onError: (err: unknown) => void) {
    this.#ctx = ctx;
    this.#batch = batch;
    this.#timer = setInterval(() => {
      if (this.#running || this.#closed) return;
      this.#running = true;
      this.tick().then(
        () => (this.#running = false),
        (err: unknown) => {
          this.#running = false;
          if (!this.#closed) onError(err);
        },
      );
    }, intervalMs);
    this.#timer.unref();
  }

  /** One pass over the next slice of conversations. */
  async tick(): Promise<void> {
    if (this.#offset >= this.#subjects.length) {
      // A new cycle: list the subjects once (conversations created meanwhile wait for the next).
      const info = await this.#ctx.jsm.streams.info(this.#ctx.stream, { subjects_filter: this.#ctx.filter });
      this.#subjects = Object.keys(info.state.subjects ?? {}).sort();
      this.#offset = 0;
    }
    const slice = this.#subjects.slice(this.#offset, this.#offset + this.#batch);
    this.#offset += slice.length;
    const now = Date.now();
    for (const subject of slice) {
      if (this.#closed) return;
      this.removed += await sweepConversation(this.#ctx, subject, now);
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }
}
