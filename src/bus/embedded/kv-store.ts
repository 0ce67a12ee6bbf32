/**
 * The data of one KV bucket, as its home region holds it: a stream of changes in revision order
 * (like the JetStream stream behind a NATS bucket) with per-key history and max-age expiry.
 *
 * Only the home region touches a store; other regions reach it through a round trip on the WAN.
 */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { subjectMatches } from '../subjects.js';
import type { KvEntry } from '../types.js';

/** A watch as the store sees it: told about each matching change, and asked to catch up. */
export interface StoreWatcher {
  readonly filter: string;
  onChange(entry: KvEntry): void;
  resync(): void;
}

interface Stored {
  readonly entry: KvEntry;
  /** False once trimmed by history: still in `stream` until swept, but no longer readable. */
  live: boolean;
}

export type WriteCondition = { kind: 'any' } | { kind: 'create' } | { kind: 'update'; revision: number };

export class BucketStore {
  revision = 0;
  readonly watchers = new Set<StoreWatcher>();
  private stream: Stored[] = [];
  /** Trimmed entries still in `stream`; compacted away once they are the majority. */
  private dead = 0;
  private readonly perKey = new Map<string, Stored[]>();

  constructor(
    readonly bucket: string,
    readonly home: string,
    readonly ttlMs: number,
    readonly history: number,
  ) {}

  get(key: string): KvEntry | null {
    this.sweep();
    const last = this.latest(key);
    return last && last.operation === 'PUT' ? copy(last) : null;
  }

  write(key: string, value: Uint8Array, operation: 'PUT' | 'DEL', cond: WriteCondition = { kind: 'any' }): KvEntry {
    this.sweep();
    const last = this.latest(key);
    if (cond.kind === 'create' && last?.operation === 'PUT') {
      throw new MeridianError(ErrorCode.KvKeyExists, `key ${key} already exists in ${this.bucket}`, { details: { bucket: this.bucket, key } });
    }
    if (cond.kind === 'update' && (last?.revision ?? 0) !== cond.revision) {
      throw new MeridianError(ErrorCode.KvWrongRevision, `key ${key} in ${this.bucket} is at revision ${last?.revision ?? 0}, not ${cond.revision}`, {
        details: { bucket: this.bucket, key, expected: cond.revision, actual: last?.revision ?? 0 },
      });
    }
    const entry: KvEntry = { bucket: this.bucket, key, value, revision: ++this.revision, created: Date.now(), operation };
    const stored: Stored = { entry, live: true };
    this.stream.push(stored);
    let versions = this.perKey.get(key);
    if (!versions) this.perKey.set(key, (versions = []));
    versions.push(stored);
    while (versions.length > this.history) {
      versions.shift()!.live = false;
      this.dead++;
    }
    if (this.dead > 64 && this.dead * 2 > this.stream.length) {
      this.stream = this.stream.filter((st) => st.live);
      this.dead = 0;
    }
    for (const w of this.watchers) if (subjectMatches(w.filter, key)) w.onChange(entry);
    return entry;
  }

  /** Keys holding a value, sorted. */
  keys(pattern: string): string[] {
    this.sweep();
    const out: string[] = [];
    for (const [key, versions] of this.perKey) {
      if (versions.at(-1)?.entry.operation === 'PUT' && subjectMatches(pattern, key)) out.push(key);
    }
    return out.sort();
  }

  /** The current value of each matching key, in revision order (a watch's initial values). */
  snapshot(filter: string): KvEntry[] {
    this.sweep();
    const out: KvEntry[] = [];
    for (const [key, versions] of this.perKey) {
      const last = versions.at(-1)?.entry;
      if (last?.operation === 'PUT' && subjectMatches(filter, key)) out.push(copy(last));
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  /** Retained changes with `after < revision < before` on matching keys, in revision order. */
  between(after: number, before: number, filter: string): KvEntry[] {
    this.sweep();
    return this.stream
      .filter((s) => s.live && s.entry.revision > after && s.entry.revision < before && subjectMatches(filter, s.entry.key))
      .map((s) => copy(s.entry));
  }

  private latest(key: string): KvEntry | undefined {
    return this.perKey.get(key)?.at(-1)?.entry;
  }

  /** Drop what max age has expired. The stream is in time order, so expiry eats its front. */
  private sweep(): void {
    if (this.ttlMs <= 0) return;
    const cutoff = Date.now() - this.ttlMs;
    let n = 0;
    while (n < this.stream.length && this.stream[n]!.entry.created <= cutoff) {
      const { entry, live } = this.stream[n]!;
      if (live) {
        const versions = this.perKey.get(entry.key)!;
        versions.shift();
        if (versions.length === 0) this.perKey.delete(entry.key);
      } else this.dead--;
      n++;
    }
    if (n > 0) this.stream = this.stream.slice(n);
  }
}

/** Entries handed out get their own bytes: a reader cannot change what the bucket holds. */
export function copy(e: KvEntry): KvEntry {
  return { ...e, value: e.value.slice() };
}
