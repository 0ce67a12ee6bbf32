/**
 * History reads of the NATS message log: find where `after` falls in a conversation, then fetch.
 *
 * Conversation seqs live in the entry header, not in the stream sequence (one stream holds many
 * conversations), so `after=SEQ` cannot be turned into a stream position by arithmetic. Within
 * one subject both numbers grow together, so a binary search over stream positions with
 * "first message on the subject at or after X" lookups (`next_by_subj`) finds the first entry
 * with seq > after in log2(stream length) API calls; the entries are then walked with the same
 * lookups, and a long read takes a pull consumer filtered on the subject (nats-pull.ts) for the
 * rest (see `fetchFrom`).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { PullReader } from './nats-pull.js';
import { getNext } from '../nats/mod.js';
import { metaOf } from './nats-store.js';
import type { EntryMeta } from './nats-store.js';

export interface RawEntry {
  meta: EntryMeta;
  data: Uint8Array;
  /** Server time the stream stored it (ms), which age retention is measured against. */
  storedMs: number;
  /** Its stream sequence. */
  streamSeq: number;
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

/** Entries read one lookup at a time before a long read takes a pull consumer. */
export const WALK_FIRST = 32;
/** How long a pull consumer's creation may take before the read walks on without it. */
const CONSUMER_WAIT_MS = 750;

/**
 * Up to `limit` entries on `subject` from stream position `start` up to `end` (the subject's
 * last message when the read began), in order.
 *
 * Two ways to read, both answered by the stream's own servers or the meta group:
 * - a walk: "first message on the subject at or after p" lookups (`next_by_subj`), one round
 *   trip to the stream's leader each, in this region;
 * - a pull consumer: one batch for many entries, but its creation is a JetStream meta-group
 *   proposal. The meta leader may be in another region (a WAN round trip or two), and while a
 *   region holding it is lost the survivors have none for seconds (the election, then the lost
 *   server's return): a read that waits on it stalls every replay in the survivors.
 * So a read walks its first `WALK_FIRST` entries (gap fills and live catch-ups are short), and
 * only a longer one asks for a consumer; when that does not come within `CONSUMER_WAIT_MS` it
 * walks on.
 */
export async function fetchFrom(nc: NatsConnection, jsm: JetStreamManager, stream: string, subject: string, range: { start: number; end: number }, limit: number, timeoutMs: number): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  const entries: RawEntry[] = [];
  let next = range.start;
  const walk = async (upTo: number): Promise<boolean> => {
    while (entries.length < upTo) {
      if (next > range.end) return true;
      if (Date.now() > deadline) throw new Error(`reading ${subject} from ${stream} took more than ${timeoutMs} ms`);
      const m = await getNext(jsm, stream, subject, next);
      if (!m || m.seq > range.end) return true;
      entries.push({ meta: metaOf(m.header), data: m.data, storedMs: m.time.getTime(), streamSeq: m.seq });
      next = m.seq + 1;
    }
    return next > range.end;
  };
  if (await walk(Math.min(limit, WALK_FIRST))) return { entries, done: true, next };
  if (entries.length >= limit) return { entries, done: false, next };
  const reader = await withDeadline(PullReader.open(nc, jsm, stream, { filter: subject, start: next, timeoutMs }), CONSUMER_WAIT_MS);
  if (!reader) {
    const done = await walk(limit);
    return { entries, done, next };
  }
  try {
    const msgs = await reader.next(limit - entries.length);
    for (const m of msgs) if (m.seq <= range.end) entries.push({ meta: metaOf(m.headers), data: m.data, storedMs: m.storedMs, streamSeq: m.seq });
    const lastSeq = msgs.at(-1)?.seq ?? range.end;
    return { entries, done: reader.exhausted || lastSeq >= range.end, next: Math.max(next, lastSeq + 1) };
  } finally {
    reader.close();
  }
}

/** The reader, or undefined when it is not there within `ms` (closed when it comes later). */
async function withDeadline(p: Promise<PullReader>, ms: number): Promise<PullReader | undefined> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const t = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      late = true;
      resolve(undefined);
    }, ms);
  });
  p.then(
    (r) => {
      if (late) r.close();
    },
    () => undefined,
  );
  try {
    return await Promise.race([p, t]);
  } catch {
    // No consumer (the meta group is unavailable): walk instead.
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
