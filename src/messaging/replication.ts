/**
 * Replicated conversation logs: the home copies each conversation's entries, in seq order, to
 * its replica region (src/placement `replicasOf`: the candidate nearest the home), where a node
 * stores them with the log's `store` (same seq, id, timestamp, body), so the replica's log is an
 * exact, dense prefix of the home's.
 *
 * - One chain per conversation keeps the copies in order; a copy that finds the replica behind
 *   (a lost earlier copy, a replica that was down) is answered with the replica's last seq and
 *   the home sends what is missing from its log, a page at a time, each page cut to fit one bus
 *   message. A re-sent entry is harmless (the log's store is idempotent).
 * - `local` sends do not wait: the copy runs behind the ack, its lag (append → held by the
 *   replica) is measured, and a conversation whose copy failed is retried every second until the
 *   replica has caught up. `replicated` sends wait for the copy and fail with a retryable
 *   `MSG_UNAVAILABLE` when the replica cannot be reached (the message is stored at the home: the
 *   client's retry with the same clientMsgId gets the same seq, and the copy is tried again).
 * - A replica that holds a different entry at a seq (`conflict`) is never overwritten: that can
 *   only follow a failover (src/failover), which fences this home first.
 */
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import type { LogEntry, MessageLog } from '../log/mod.js';
import type { NodeMetrics } from '../observability/metrics.js';
import type { RpcRequest } from './rpc.js';
import { fittingPrefix } from './fit.js';

/** Trace ids for log lines (src/observability/tracing.ts `traceFields`). */
type TraceIds = { readonly traceId?: string; readonly spanId?: string };

const RETRY_MS = 1000;
const MAX_ROUNDS = 8;

export interface ReplicatorDeps {
  readonly log: MessageLog;
  /** This region (copies say where they come from: a replica refuses a fenced old home's). */
  readonly region: string;
  /** The replica regions of a conversation (nearest first); empty: not replicated. */
  readonly replicasOf: (conversation: string) => readonly string[];
  /** Forward a log rpc to a region (messaging.ts `#call`). */
  readonly call: <T>(region: string, req: RpcRequest, timeoutMs?: number) => Promise<T>;
  /** Largest bus payload: pages of entries are cut to fit it. */
  readonly maxPayload: number;
  readonly metrics?: NodeMetrics | undefined;
  /**
   * Background failures (a `local` copy that could not be made yet); `trace`: the ids of the
   * traced send that asked for the copy (none for the retries, which run on their own).
   */
  readonly onError?: (err: unknown, conversation: string, replica: string, trace?: TraceIds) => void;
}

export class Replicator {
  readonly #d: ReplicatorDeps;
  readonly #chains = new Map<string, Promise<void>>();
  /** Conversations whose copy failed: highest seq still to copy, retried by one timer. */
  readonly #behind = new Map<string, number>();
  /** Highest seq known held by the replica, per conversation (most recent last, bounded). */
  readonly #copied = new Map<string, number>();
  /** Entries appended but not copied yet, per conversation by seq: one copy carries them all. */
  readonly #waiting = new Map<string, Map<number, LogEntry>>();
  /** Highest seq asked to be copied per conversation (a step copies up to it, not just its own). */
  readonly #target = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(deps: ReplicatorDeps) {
    this.#d = deps;
  }

  /**
   * Copy the conversation up to `seq` to its replicas (`entry` is the entry at `seq` when the
   * caller has it). Resolves once every replica holds it; rejects when one cannot be reached.
   */
  replicate(conversation: string, seq: number, entry?: LogEntry, appendedAt = performance.now()): Promise<void> {
    const replicas = this.#d.replicasOf(conversation);
    if (replicas.length === 0 || this.#closed) return Promise.resolve();
    if (entry !== undefined) {
      const w = this.#waiting.get(conversation) ?? new Map<number, LogEntry>();
      this.#waiting.set(conversation, w);
      if (w.size < 1000) w.set(entry.seq, entry);
    }
    this.#target.set(conversation, Math.max(seq, this.#target.get(conversation) ?? 0));
    const prev = this.#chains.get(conversation) ?? Promise.resolve();
    const run = prev.then(async () => {
      // An earlier step may have carried this seq already (steps copy up to the newest ask).
      const copied = this.#copied.get(conversation) ?? 0;
      if (copied < seq) {
        const upTo = Math.max(seq, this.#target.get(conversation) ?? 0);
        const w = this.#waiting.get(conversation);
        // The appended entries in hand, when they cover everything after the known copy.
        let batch: LogEntry[] | null = null;
        if (w !== undefined && copied > 0) {
          const list: LogEntry[] = [];
          for (let s = copied + 1; s <= upTo; s++) {
            const e = w.get(s);
            if (e === undefined) break;
            list.push(e);
          }
          if (list.length === upTo - copied) batch = list;
        } else if (entry !== undefined && entry.seq === upTo) batch = [entry];
        for (const replica of replicas) await this.#push(conversation, replica, upTo, batch);
        this.#d.metrics?.replicated((performance.now() - appendedAt) / 1000);
        this.#copied.delete(conversation);
        this.#copied.set(conversation, upTo);
        if (this.#copied.size > 100_000) this.#copied.delete(this.#copied.keys().next().value!);
        if (w !== undefined) {
          for (const s of w.keys()) if (s <= upTo) w.delete(s);
          if (w.size === 0) this.#waiting.delete(conversation);
        }
        if ((this.#target.get(conversation) ?? 0) <= upTo) this.#target.delete(conversation);
      }
    });
    const settled = run.catch(() => undefined);
    this.#chains.set(conversation, settled);
    void settled.then(() => {
      if (this.#chains.get(conversation) === settled) this.#chains.delete(conversation);
    });
    return run;
  }

  /** A `local` copy: in the background; a failure is retried until the replica catches up. */
  replicateLater(conversation: string, seq: number, entry?: LogEntry, trace?: TraceIds): void {
    const appendedAt = performance.now();
    this.replicate(conversation, seq, entry, appendedAt).catch((err: unknown) => {
      this.#d.metrics?.replicationFailed();
      // The retry pages from the log, not from the entries in hand: by then retention (or
      // erasure) may have removed some at the home, and those must not reach the replica.
      this.#waiting.delete(conversation);
      this.#d.onError?.(err, conversation, this.#d.replicasOf(conversation)[0] ?? '?', trace);
      this.#behind.set(conversation, Math.max(seq, this.#behind.get(conversation) ?? 0));
      this.#arm();
    });
  }

  /** Highest seq of `conversation` the replica is known to hold (0: not known here). */
  copiedUpTo(conversation: string): number {
    return this.#copied.get(conversation) ?? 0;
  }

  /** Conversations this node has copied or tried to, with what the replica is known to hold. */
  tracked(): [string, number][] {
    const out = new Map(this.#copied);
    for (const c of this.#behind.keys()) if (!out.has(c)) out.set(c, 0);
    return [...out];
  }

  /** Conversations whose copy is behind, for the metrics and tests. */
  get behind(): number {
    return this.#behind.size;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #arm(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const todo = [...this.#behind];
      this.#behind.clear();
      for (const [conversation, seq] of todo) this.replicateLater(conversation, seq);
    }, RETRY_MS);
    this.#timer.unref();
  }

  async #push(conversation: string, replica: string, upTo: number, batch: LogEntry[] | null): Promise<void> {
    let entries: LogEntry[] | null = batch !== null && batch.length > 0 ? fittingPrefix(batch.map(wireEntry), this.#d.maxPayload) : null;
    // Rounds that make no progress are bounded; a long catch-up goes on page after page.
    let stalled = 0;
    let best = 0;
    let after: number | undefined;
    while (stalled < MAX_ROUNDS) {
      if (entries === null) {
        const { last } = await this.#d.call<{ last: number }>(replica, { op: 'replicate', conversation, from: this.#d.region, entries: [] });
        if (last >= upTo) return;
        entries = await this.#page(conversation, last, upTo);
        if (entries.length === 0) {
          throw new MeridianError(ErrorCode.MsgUnavailable, `${conversation}: seqs ${last + 1}–${upTo} are no longer in the home's log, the replica in ${replica} cannot catch up`, { details: { conversation, replica, last } });
        }
        // A page read after the replica's last: the seqs it skips are gone here (retention or
        // erasure), so the replica may skip them too rather than wait for them forever.
        after = last;
      }
      try {
        const { last } = await this.#d.call<{ last: number }>(replica, { op: 'replicate', conversation, from: this.#d.region, entries, ...(after === undefined ? {} : { after }) });
        if (last >= upTo) return;
        if (last > best) {
          best = last;
          stalled = -1;
        }
      } catch (err) {
        if (!isMeridianError(err, ErrorCode.LogOutOfOrder) || err.details.conflict === true) throw err;
      }
      stalled++;
      entries = null;
      after = undefined;
    }
    throw new MeridianError(ErrorCode.MsgUnavailable, `${conversation}: the replica in ${replica} did not catch up`, { details: { conversation, replica } });
  }

  /** Entries after `after` up to `upTo`, as many as fit one bus message (at least one). */
  async #page(conversation: string, after: number, upTo: number): Promise<LogEntry[]> {
    const got = (await this.#d.log.read(conversation, { after, limit: Math.min(1000, upTo - after) })).filter((e) => e.seq <= upTo);
    return fittingPrefix(got.map(wireEntry), this.#d.maxPayload);
  }
}

/** Entries go over the rpc as JSON: messaging only ever appends JSON bodies. */
function wireEntry(e: LogEntry): LogEntry {
  if (e.body instanceof Uint8Array) throw new MeridianError(ErrorCode.MsgInvalid, `${e.conversation} seq ${e.seq}: a bytes body cannot be copied over the log rpc`);
  return e;
}
