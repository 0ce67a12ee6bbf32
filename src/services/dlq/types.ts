/**
 * The dead-letter queue: asynchronous function invocations that exhausted their attempts, kept
 * durably with the event, the last error and every attempt, until an operator replays or
 * deletes them. Two implementations pass one conformance suite (test/services/dlq-suite.ts):
 * - `SqliteDeadLetterQueue` (sqlite.ts): a better-sqlite3 file under the node's data dir;
 * - `KvDeadLetterQueue` (kv.ts): a bus KV bucket placed in the node's region (JetStream KV on
 *   NATS, the embedded KV in one process).
 *
 * Contract (MUST / MUST NOT):
 * - `put` MUST resolve only once the letter is durable, and MUST be idempotent on `id` (a
 *   second put of the same id keeps the first letter and resolves with it).
 * - `get` MUST return the letter or `null`; `list` MUST return letters oldest first (by
 *   `deadAt`, then id), at most `limit`, only those of `function` when given, and only those
 *   after the cursor `after` (an id from a previous page).
 * - `recordReplay` MUST append the outcome to `replays` (never drop earlier ones), set `state`
 *   to `replayed` on success (and leave it otherwise), and reject with `SVC_NOT_FOUND` for an
 *   unknown id. Concurrent replays of one letter MUST both be recorded.
 * - `delete` MUST remove the letter and resolve `false` when there was none.
 * - After `close()` every call MUST reject with `BUS_CLOSED`.
 */
import type { StoredEvent } from '../functions/event.js';

/** One attempt of an invocation (async runner attempt, or one replay). */
export interface AttemptRecord {
  readonly attempt: number;
  readonly at: number;
  readonly durationMs: number;
  readonly ok: boolean;
  /** The worker and region that answered (or failed), when one was reached. */
  readonly worker?: string;
  readonly region?: string;
  readonly status?: number;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface DeadLetter {
  /** The invocation id. */
  readonly id: string;
  readonly function: string;
  readonly event: StoredEvent;
  /** Region node that accepted the invocation. */
  readonly region: string;
  readonly acceptedAt: number;
  readonly deadAt: number;
  readonly lastError: { readonly code: string; readonly message: string };
  readonly attempts: readonly AttemptRecord[];
  readonly state: 'dead' | 'replayed';
  readonly replays: readonly AttemptRecord[];
}

export type NewDeadLetter = Omit<DeadLetter, 'state' | 'replays'>;

export interface ListOptions {
  readonly function?: string;
  /** Page size, 1-1000. Default 100. */
  readonly limit?: number;
  /** Return letters after this id (the last id of the previous page). */
  readonly after?: string;
}

export interface DeadLetterQueue {
  readonly kind: 'sqlite' | 'kv';
  put(letter: NewDeadLetter): Promise<DeadLetter>;
  get(id: string): Promise<DeadLetter | null>;
  list(opts?: ListOptions): Promise<DeadLetter[]>;
  recordReplay(id: string, outcome: AttemptRecord): Promise<DeadLetter>;
  delete(id: string): Promise<boolean>;
  close(): Promise<void>;
}
