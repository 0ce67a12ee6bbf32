/**
 * `AuditLog`: what the node and its modules call. It stamps entries (time-ordered id, time,
 * region), writes them in the background (recording never blocks or fails a request: a store
 * failure goes to `onError`), and folds refusals — the entries an attacker can produce at will —
 * into at most one entry per action and client address per minute, with `count`.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEntry, AuditQuery, AuditStore, NewAuditEntry } from './types.js';

const FOLD_MS = 60_000;
const MAX_FOLDED_KEYS = 10_000;

export class AuditLog {
  readonly #folded = new Map<string, { first: NewAuditEntry; count: number }>();
  readonly #timer: NodeJS.Timeout;
  #pending: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    readonly store: AuditStore,
    readonly region: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.#timer = setInterval(() => this.#flushFolded(), FOLD_MS);
    this.#timer.unref();
  }

  record(e: NewAuditEntry): void {
    if (this.#closed) return;
    if (e.outcome === 'refused') {
      const key = `${e.action}|${e.from ?? ''}`;
      const seen = this.#folded.get(key);
      if (seen) {
        seen.count++;
        return;
      }
      if (this.#folded.size < MAX_FOLDED_KEYS) this.#folded.set(key, { first: e, count: 0 });
    }
    this.#write(e);
  }

  #write(e: NewAuditEntry): void {
    const at = Date.now();
    const entry: AuditEntry = { id: `${String(at).padStart(13, '0')}-${randomBytes(4).toString('hex')}`, at, region: this.region, ...e };
    this.#pending = this.#pending.then(() => this.store.append(entry)).catch((err: unknown) => this.onError(err));
  }

  /** One entry per folded key that saw more refusals after its first: how many. */
  #flushFolded(): void {
    for (const { first, count } of this.#folded.values()) if (count > 0) this.#write({ ...first, count });
    this.#folded.clear();
  }

  /** Newest first; waits for what was recorded before. */
  async query(q: AuditQuery): Promise<AuditEntry[]> {
    await this.#pending;
    return this.store.query(q);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#flushFolded();
    this.#closed = true;
    await this.#pending;
    await this.store.close();
  }
}
