/**
 * The region's log as the rest of the region sees it (service.ts builds it):
 * - `read` first waits until the region has seen every erasure made while it was away, so no
 *   path (history, resume, the replication pages a home sends, reads served to other regions)
 *   serves an entry that an erasure this region has not processed yet should have removed;
 * - `store`/`storeMany` (copies from a home) erase again, at once, what they just stored of an
 *   erased subject: a home that has not processed an erasure yet may still copy an entry this
 *   replica already erased but never held, or one sent while the erasure is going on. The copy
 *   is stored first (its seq keeps the replica's log dense, as the log's contract needs), then
 *   removed; reads wait for that.
 */
import type { AppendInput, AppendResult, LogEntry, MessageLog, ReadOptions, StoreManyResult, StoreOptions, StoreResult } from '../log/mod.js';
import type { ErasureSubject } from './types.js';

export interface GateHooks {
  /** Resolves once reads may be served; rejects (retryable) when they may not. */
  readonly ready: () => Promise<void>;
  /** The erased subject a copied entry belongs to, if it must not stay. */
  readonly erasedSubjectOf: (entry: LogEntry) => ErasureSubject | undefined;
  /** Remove `subject` from the log (and its file's leftovers), as the erasure itself does. */
  readonly eraseAgain: (subject: ErasureSubject) => Promise<void>;
}

export class GatedLog implements MessageLog {
  #scrubbing: Promise<void> = Promise.resolve();

  constructor(
    readonly inner: MessageLog,
    private readonly hooks: GateHooks,
  ) {}

  append(conversation: string, input: AppendInput): Promise<AppendResult> {
    return this.inner.append(conversation, input);
  }
  store(entry: LogEntry, opts?: StoreOptions): Promise<StoreResult> {
    return this.#thenScrub([entry], () => this.inner.store(entry, opts));
  }
  storeMany(entries: readonly LogEntry[], opts?: StoreOptions): Promise<StoreManyResult> {
    return this.#thenScrub(entries, () => this.inner.storeMany(entries, opts));
  }
  async read(conversation: string, opts?: ReadOptions): Promise<LogEntry[]> {
    await this.hooks.ready();
    await this.#scrubbing;
    return this.inner.read(conversation, opts);
  }
  last(conversation: string): Promise<number> {
    return this.inner.last(conversation);
  }
  firstAvailable(conversation: string): Promise<number> {
    return this.inner.firstAvailable(conversation);
  }
  erase(conversation: string): Promise<number> {
    return this.inner.erase(conversation);
  }
  eraseFrom(from: string): Promise<number> {
    return this.inner.eraseFrom(from);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  /** Run a store; if it may have stored entries of an erased subject, erase them before reads go on. */
  #thenScrub<T>(entries: readonly LogEntry[], store: () => Promise<T>): Promise<T> {
    const subjects = new Map<string, ErasureSubject>();
    for (const e of entries) {
      const s = this.hooks.erasedSubjectOf(e);
      if (s !== undefined) subjects.set(JSON.stringify(s), s);
    }
    if (subjects.size === 0) return store();
    const run = (async () => {
      try {
        return await store();
      } finally {
        // Also after a partial batch: what was committed before the failure is scrubbed too.
        for (const s of subjects.values()) await this.hooks.eraseAgain(s);
      }
    })();
    const previous = this.#scrubbing;
    this.#scrubbing = Promise.all([previous, run.then(() => undefined, () => undefined)]).then(() => undefined);
    return run;
  }
}
