/**
 * The durable message log: exactly one ordered log per conversation (a user pair or a room).
 *
 * The messaging layer appends every message a client sends to its conversation's log, acks the
 * client with the returned `seq`, and serves history (`after=SEQ&limit=N`) and resume from it.
 * Two implementations pass the same conformance suite (test/log/conformance.ts):
 * - `SqliteMessageLog` (log/embedded.ts): one SQLite file per region (WAL, synchronous=FULL);
 * - `NatsMessageLog` (log/nats.ts): a JetStream stream placed in its home region's cluster.
 *
 * Who assigns sequence numbers: the log, i.e. the one store that owns the conversation, inside
 * the same atomic step that stores the message. Clients and region nodes never pick numbers, so
 * two senders in two regions can never both get seq 7. (SQLite: `last + 1` in the append
 * transaction. NATS: `last + 1` published with `Nats-Expected-Last-Subject-Sequence`, retried
 * when another appender won; see log/nats.ts for why not the stream sequence.) A replica's log
 * assigns nothing while it is one: it `store`s the copies the home sends, seq for seq, and after
 * a failover its `append` simply continues the sequence.
 *
 * Contract (MUST / MUST NOT):
 * - `append` MUST resolve only once the entry is durable (fsynced file / JetStream ack), and
 *   MUST give it `seq = previous last + 1`: seqs of a conversation start at 1 and are dense as
 *   assigned. Concurrent appends to one conversation from any number of callers or regions MUST
 *   get distinct, dense seqs. A seq MUST NOT ever be reused, not even after erasure or retention
 *   removed every entry (the counter outlives the entries).
 * - An append carrying an `id` already appended to the same conversation within the dedupe
 *   window MUST store nothing and resolve with the ORIGINAL `seq`, `id`, `timestamp` and
 *   `duplicate: true` (the body of the retry is ignored). If the original is no longer stored
 *   (erased, or dropped by retention) it MUST reject with `LOG_DUPLICATE_GONE` and store nothing.
 *   Ids are scoped to a conversation. Without `id` the log generates one, and no dedupe applies.
 * - `read` MUST return stored entries with `seq > after`, ascending, at most `limit` of them.
 *   Entries removed by retention or erasure are simply absent: compare `after` with
 *   `firstAvailable` to tell "nothing new" from "history lost" (recovered: false).
 * - `last` MUST return the highest seq ever assigned in the conversation (0 if none), also when
 *   its entries are gone. `firstAvailable` MUST return the lowest stored seq, or `last + 1` when
 *   nothing is stored.
 * - Retention is per conversation: `retention(conversation)` gives its policy (`maxAgeMs`,
 *   `maxCount`; a field absent or 0 is no limit of that kind), and when it answers undefined (or
 *   is not given) the global `maxAgeMs` / `maxPerConversation` apply. An entry is beyond its
 *   policy when its timestamp is older than `maxAgeMs` (measured from the entry's own timestamp,
 *   so a replica's copy expires with the home's) or its seq is at or below `last - maxCount` (the
 *   newest `maxCount` seqs are kept; holes left by erasure count as seqs). `read` and
 *   `firstAvailable` MUST NOT return or report an entry beyond its policy, even before it is
 *   removed. Such entries MUST be removed from storage (the stored bytes deleted, not only
 *   hidden) within a sweep interval (SQLite also at once for count on append/store), by a sweep
 *   that does bounded work per pass and stops with `close()`. Retention MUST NOT lower `last`:
 *   a removed seq is never assigned again, and `store` MUST NOT bring it back (see below).
 * - `erase(conversation)` MUST remove every stored entry (body, headers, sender) of the
 *   conversation; `eraseFrom(user)` every entry sent by `user` in every conversation of this
 *   log, leaving holes in the seqs. Neither resets the counter. What erasure does not reach:
 *   copies outside this log (client caches, notifications already delivered) and, for NATS,
 *   bytes on disk until the server compacts its blocks.
 * - `store(entry)` (replication) MUST store an exact copy of an entry another log assigned: same
 *   seq, id, from, timestamp, body and headers, so `read` here returns it deep-equal to the
 *   source's. It MUST accept only `entry.seq = last + 1` (durably, as append, raising the
 *   counter to it), else reject with `LOG_OUT_OF_ORDER` (details `{ last }`) and store nothing.
 *   Two exceptions at `seq <= last`: an entry with that seq and the same id still stored resolves
 *   `{ stored: false }` (a re-sent batch is harmless); one with another id rejects with
 *   `LOG_OUT_OF_ORDER` and `details.conflict: true`. A seq at or below `last` whose entry is no
 *   longer stored (erased, removed by retention) is `LOG_OUT_OF_ORDER`: an erased entry is never
 *   brought back by a re-send. After a store the entry's id dedupes appends exactly as if it had
 *   been appended here (original seq and timestamp, `duplicate: true`), and `append` continues at
 *   `last + 1`. Every stored entry takes part in dedupe (whether the source's id was given by the
 *   sender or generated). Retention applies to stored entries as to appended ones, by the
 *   entry's seq and timestamp. `allowGap` lets an entry skip ahead of `last + 1` (a failover's
 *   first write, or a source whose seqs in between are gone to retention or erasure).
 *   Where the stores differ: SQLite measures the dedupe window from a stored entry's timestamp,
 *   NATS from when the copy was stored (so up to the replication delay longer); without a
 *   `retention` function NATS also lets the stream's `max_age` remove entries by the time they
 *   were stored (reads still hide them by timestamp). `storeMany(entries)` stores in order and stops at the first failure, rejecting with
 *   that entry's error plus `details.index` (entries before it were accepted) and
 *   `details.stored`.
 * - Bad input MUST be refused with typed errors before anything is stored:
 *   `LOG_INVALID_CONVERSATION` (empty or over 256 characters), `LOG_INVALID_ARGUMENT` (bad id,
 *   sender, headers, `after` < 0, `limit` < 1, a stored entry's seq or timestamp …),
 *   `LOG_BODY_TOO_LARGE`. After `close()` every call MUST reject with `LOG_CLOSED`; `close()`
 *   MUST be idempotent. A store that cannot be reached
 *   rejects with `LOG_UNAVAILABLE`; heavy contention beyond the retry budget `LOG_CONTENTION`;
 *   a `store` that is not the next seq `LOG_OUT_OF_ORDER`.
 */
import type { RetentionOf } from '../topology/retention.js';

/** What a message body may be: raw bytes, or any JSON value (stored as its UTF-8 text). */
export type LogBody = Uint8Array | JsonValue;
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface AppendInput {
  /** Message id chosen by the sender, also the idempotency key (1-128 printable characters). */
  id?: string;
  /** The sender (user id), 1-256 characters; `eraseFrom` matches on it. */
  from: string;
  body: LogBody;
  /** Extra metadata, names are HTTP tokens, values one line. */
  headers?: Readonly<Record<string, string>>;
  /**
   * Assign at least this seq: when it is above `last + 1` the sequence skips ahead and the seqs
   * between are never assigned (reads see a hole, as after erasure). A failover's first write
   * uses it so the new owner's seqs cannot collide with ones the old home may have handed out.
   */
  minSeq?: number;
}

export interface AppendResult {
  readonly conversation: string;
  readonly seq: number;
  readonly id: string;
  /** Milliseconds since the epoch when the log accepted the original append. */
  readonly timestamp: number;
  /** True when this call was a retry of an already stored append: nothing new was stored. */
  readonly duplicate: boolean;
}

export interface LogEntry {
  readonly conversation: string;
  readonly seq: number;
  readonly id: string;
  readonly from: string;
  readonly timestamp: number;
  /** As appended: a `Uint8Array` comes back as bytes, anything else as the parsed JSON value. */
  readonly body: LogBody;
  readonly headers: Readonly<Record<string, string>>;
}

export interface StoreResult {
  /** False when the entry was already stored (same seq and id): nothing was written. */
  readonly stored: boolean;
  /** The conversation's `last()` after the call. */
  readonly last: number;
}

/** How `store` treats a copied entry. */
export interface StoreOptions {
  /**
   * Entries for which this answers true may skip ahead of `last + 1` (the seqs between are never
   * assigned), as the source's append with `minSeq` did: a failover's first write.
   */
  readonly allowGap?: (entry: LogEntry) => boolean;
}

export interface StoreManyResult {
  /** Entries newly stored. */
  readonly stored: number;
  /** Entries that were already stored (same seq and id). */
  readonly skipped: number;
  /** `last()` of the conversation of the batch's final entry after the batch (0 for an empty
   * batch): for the usual one-conversation batch, that conversation's last seq. */
  readonly last: number;
}

export interface ReadOptions {
  /** Return entries with seq strictly greater than this. Default 0 (from the start). */
  after?: number;
  /** At most this many entries (1 to 1000). Default 100. */
  limit?: number;
}

// A conversation's retention policy. Its shape is declared with the topology's retention rules,
// which the residency rules (below the log) tighten: declared here, the log, topology and
// residency folders would import each other.
export type { RetentionOf, RetentionPolicy } from '../topology/retention.js';

/** Options shared by both implementations; each adds its own. */
export interface LogOptions {
  /** How long an `id` is remembered for dedupe. Default 120 000 ms (JetStream's default). */
  dedupeWindowMs?: number;
  /** Drop entries older than this (default for conversations `retention` leaves out). 0 or absent: keep forever. */
  maxAgeMs?: number;
  /** Keep only the newest N seqs per conversation (default as above). 0 or absent: no limit. */
  maxPerConversation?: number;
  /**
   * A conversation's retention policy (retention.ts); undefined for a conversation: the two
   * options above. The topology's `retention` section gives one (src/topology/retention.ts).
   * It is called often: keep it a cheap, pure function of the conversation id.
   */
  retention?: RetentionOf;
  /** Largest encoded body accepted. Default 64 KiB. */
  maxBodyBytes?: number;
}

export interface MessageLog {
  append(conversation: string, input: AppendInput): Promise<AppendResult>;
  /**
   * Store a copy of an entry that another log assigned (replication). The entry keeps its seq, id,
   * from, timestamp, body and headers exactly. Only the next seq is accepted: `entry.seq` MUST be
   * `last + 1`, otherwise it rejects with LOG_OUT_OF_ORDER (details: { last }) and stores nothing —
   * except when an entry with that seq and the same id is already stored: then it resolves with
   * `stored: false` (idempotent; a re-sent batch is harmless). An entry with that seq but a different
   * id is a conflict: LOG_OUT_OF_ORDER too (details: { last, conflict: true }). A seq the counter is
   * already past whose entry is gone (erased, retention) is LOG_OUT_OF_ORDER as well.
   * After a store, `last()` is the stored seq and the entry's id dedupes later appends exactly as if
   * it had been appended here (a client retry after failover gets the original seq, duplicate: true).
   */
  store(entry: LogEntry, opts?: StoreOptions): Promise<StoreResult>;
  /**
   * `store` for each entry in order (any conversations), stopping at the first failure: it then
   * rejects with that entry's error, its details extended with `index` (the failed entry's
   * position; every entry before it was accepted) and `stored` (how many of those were new).
   * Cheaper than one `store` per entry: one transaction (SQLite), no re-reads between
   * consecutive seqs (NATS).
   */
  storeMany(entries: readonly LogEntry[], opts?: StoreOptions): Promise<StoreManyResult>;
  read(conversation: string, opts?: ReadOptions): Promise<LogEntry[]>;
  /** Highest seq ever assigned (0 if none). */
  last(conversation: string): Promise<number>;
  /** Lowest stored seq, or `last + 1` when nothing is stored. */
  firstAvailable(conversation: string): Promise<number>;
  /** Remove every entry of the conversation; the seq counter continues. Returns how many. */
  erase(conversation: string): Promise<number>;
  /** Remove every entry sent by `from` in any conversation of this log. Returns how many. */
  eraseFrom(from: string): Promise<number>;
  close(): Promise<void>;
}
