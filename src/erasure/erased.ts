/**
 * What a region remembers of the erasures it knows, for the copies it stores (gated-log.ts): per
 * subject, the latest request time and the requests not complete yet. A copied entry of such a
 * subject must not stay when it was sent before an erasure was requested, or while one is not
 * complete (a home erases everything the subject has when it processes the request, so until
 * every region has, a copy of anything of the subject may be one the home is about to erase).
 */
import type { LogEntry } from '../log/mod.js';
import type { ErasureRequest, ErasureSubject } from './types.js';

interface Record {
  readonly subject: ErasureSubject;
  requestedAt: number;
  readonly pending: Set<string>;
}

const keyOf = (s: ErasureSubject): string => ('user' in s ? `u:${s.user}` : `c:${s.conversation}`);

export class ErasedSubjects {
  readonly #bySubject = new Map<string, Record>();
  readonly #ids = new Set<string>();

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  remember(req: ErasureRequest): void {
    if (this.#ids.has(req.id)) return;
    this.#ids.add(req.id);
    const r = this.#bySubject.get(keyOf(req.subject)) ?? { subject: req.subject, requestedAt: 0, pending: new Set<string>() };
    r.requestedAt = Math.max(r.requestedAt, req.requestedAt);
    r.pending.add(req.id);
    this.#bySubject.set(keyOf(req.subject), r);
  }

  /** Ids of requests not known complete. */
  pending(): string[] {
    return [...this.#bySubject.values()].flatMap((r) => [...r.pending]);
  }

  completed(id: string): void {
    for (const r of this.#bySubject.values()) r.pending.delete(id);
  }

  /** The erased subject a copied entry belongs to, when it must not stay. */
  subjectOf(e: LogEntry): ErasureSubject | undefined {
    for (const key of [`u:${e.from}`, `c:${e.conversation}`]) {
      const r = this.#bySubject.get(key);
      if (r !== undefined && (e.timestamp <= r.requestedAt || r.pending.size > 0)) return r.subject;
    }
    return undefined;
  }
}
