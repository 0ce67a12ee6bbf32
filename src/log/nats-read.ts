/**
 * History reads of the NATS message log: find where `after` falls in a conversation, then fetch.
 *
 * Conversation seqs live in the entry header, not in the stream sequence (one stream holds many
 * conversations), so `after=SEQ` cannot be turned into a stream position by arithmetic. Within
 * one subject both numbers grow together, so a binary search over stream positions with
 * "first message on the subject at or after X" lookups (`next_by_subj`) finds the first entry
 * with seq > after in log2(stream length) API calls; a pull consumer filtered on the subject
 * (nats-pull.ts) then returns up to `limit` entries from there in one batch.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { PullReader } from './nats-pull.js';
import { getNext, metaOf } from './nats-store.js';
import type { EntryMeta } from './nats-store.js';

export interface RawEntry {
  meta: EntryMeta;
  data: Uint8Array;
  /** Server time the stream stored it (ms), which age retention is measured against. */
  storedMs: number;
}

/**
 * The subject's last message, found by binary search over `next_by_subj` lookups. Only needed
 * because nats-server 2.9 loses `last_by_subj` once the subject's last message is deleted
 * (eraseFrom), until the next append to the subject.
 */
export async function findLast(jsm: JetStreamManager, stream: string, subject: string): Promise<StoredMsg | null> {
  let best = await getNext(jsm, stream, subject, 1);
  if (!best) return null;
  let hi = (await jsm.streams.info(stream)).state.last_seq;
  while (best.seq < hi) {
    const mid = Math.ceil((best.seq + 1 + hi) / 2);
    const m = await getNext(jsm, stream, subject, mid);
    if (m) best = m;
    else hi = mid - 1;
  }
  return best;
}

/** Stream position of the first entry on `subject` with seq > `after`, or null if none. */
export async function findStart(jsm: JetStreamManager, stream: string, subject: string, last: StoredMsg, after: number): Promise<number | null> {
  if (metaOf(last.header).seq <= after) return null;
  const first = await getNext(jsm, stream, subject, 1);
  if (!first) return null;
  if (metaOf(first.header).seq > after) return first.seq;
  // Binary search for the smallest position p where "the first message on the subject at or
  // after p" has seq > after (false, then true from some p on; true at `last`).
  let lo = first.seq + 1;
  let hi = last.seq;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await getNext(jsm, stream, subject, mid);
    if (!m || metaOf(m.header).seq > after) hi = mid;
    else lo = m.seq + 1;
  }
  return lo;
}

export interface Batch {
  entries: RawEntry[];
  /** Nothing more on the subject up to `end` (at the time of the fetch). */
  done: boolean;
  /** Stream position to continue from when not done. */
  next: number;
}

/** Up to `limit` entries on `subject` from stream position `start` up to `end` (the subject's
 * last message when the read began), in order. */
export async function fetchFrom(nc: NatsConnection, jsm: JetStreamManager, stream: string, subject: string, range: { start: number; end: number }, limit: number, timeoutMs: number): Promise<Batch> {
  const reader = await PullReader.open(nc, jsm, stream, { filter: subject, start: range.start, timeoutMs });
  try {
    const msgs = await reader.next(limit);
    const entries = msgs.filter((m) => m.seq <= range.end).map((m) => ({ meta: metaOf(m.headers), data: m.data, storedMs: m.storedMs }));
    const lastSeq = msgs.at(-1)?.seq ?? range.end;
    return { entries, done: reader.exhausted || lastSeq >= range.end, next: lastSeq + 1 };
  } finally {
    reader.close();
  }
}
