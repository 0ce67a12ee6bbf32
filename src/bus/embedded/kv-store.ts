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

/**
 * One stored change. The value is kept as a latin1 string (one byte per char, lossless): a
 * Uint8Array per value costs its view, its ArrayBuffer and an off-heap backing store, and a region
 * node's presence bucket holds a record per connected user. Readers get a KvEntry built from it.
 */
interface Stored {
  readonly key: string;
  readonly value: string;
  readonly revision: number;
  readonly created: number;
  readonly operation: 'PUT' | 'DEL';
  /** False once trimmed by history: still in `stream` until swept, but no longer readable. */
  live: boolean;
}

const EMPTY = '';

function pack(value: Uint8Array): string {
  return value.byteLength === 0 ? EMPTY : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
}

function unpack(value: string): Uint8Array {
  const out = new Uint8Array(value.length);
  if (value.length > 0) Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(value, 0, 'latin1');
  return out;
}

export type WriteCondition = { kind: 'any' } | { kind: 'create' } | { kind: 'update'; revision: number };

export class BucketStore {
  revision = 0;
  readonly watchers = new Set<StoreWatcher>();
  private stream: Stored[] = [];
  /** Trimmed entries still in `stream`; compacted away once they are the majority. */
  private dead = 0;
  /** Each key's retained versions, oldest first: a lone version as is (most keys), else a list. */
  private readonly perKey = new Map<string, Stored | Stored[]>();

  constructor(
    readonly bucket: string,
    readonly home: string,
    readonly ttlMs: number,
    readonly history: number,
  ) {}

  get(key: string): KvEntry | null {
    this.sweep();
    const last = this.latest(key);
    return last && last.operation === 'PUT' ? this.entry(last) : null;
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
    const stored: Stored = { key, value: pack(value), revision: ++this.revision, created: Date.now(), operation, live: true };
    // What watchers are told (they copy it before handing it out): `value` is the caller's bytes.
    const entry: KvEntry = { bucket: this.bucket, key, value, revision: stored.revision, created: stored.created, operation };
    this.stream.push(stored);
    const cur = this.perKey.get(key);
    if (cur === undefined) this.perKey.set(key, stored);
    else {
      const versions = Array.isArray(cur) ? cur : [cur];
      versions.push(stored);
      while (versions.length > this.history) {
        versions.shift()!.live = false;
        this.dead++;
      }
      this.perKey.set(key, versions.length === 1 ? versions[0]! : versions);
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
      if (newest(versions)?.operation === 'PUT' && subjectMatches(pattern, key)) out.push(key);
    }
    return out.sort();
  }

  /** The current value of each matching key, in revision order (a watch's initial values). */
  snapshot(filter: string): KvEntry[] {
    this.sweep();
    const out: KvEntry[] = [];
    for (const [key, versions] of this.perKey) {
      const last = newest(versions);
      if (last?.operation === 'PUT' && subjectMatches(filter, key)) out.push(this.entry(last));
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  /** Retained changes with `after < revision < before` on matching keys, in revision order. */
  between(after: number, before: number, filter: string): KvEntry[] {
    this.sweep();
    return this.stream
      .filter((s) => s.live && s.revision > after && s.revision < before && subjectMatches(filter, s.key))
      .map((s) => this.entry(s));
  }

  private latest(key: string): Stored | undefined {
    const versions = this.perKey.get(key);
    return versions === undefined ? undefined : newest(versions);
  }

  /** A reader's entry: its own bytes, so it cannot change what the bucket holds. */
  private entry(s: Stored): KvEntry {
    return { bucket: this.bucket, key: s.key, value: unpack(s.value), revision: s.revision, created: s.created, operation: s.operation };
  }

  /** Drop what max age has expired. The stream is in time order, so expiry eats its front. */
  private sweep(): void {
    if (this.ttlMs <= 0) return;
    const cutoff = Date.now() - this.ttlMs;
    let n = 0;
    while (n < this.stream.length && this.stream[n]!.created <= cutoff) {
      const { key, live } = this.stream[n]!;
      if (live) {
        const versions = this.perKey.get(key)!;
        if (!Array.isArray(versions)) this.perKey.delete(key);
        else {
          versions.shift();
          if (versions.length === 0) this.perKey.delete(key);
          else if (versions.length === 1) this.perKey.set(key, versions[0]!);
        }
      } else this.dead--;
      n++;
    }
    if (n > 0) this.stream = this.stream.slice(n);
  }
}

function newest(versions: Stored | Stored[]): Stored | undefined {
  return Array.isArray(versions) ? versions.at(-1) : versions;
}

/** Entries handed out get their own bytes: a reader cannot change what the bucket holds. */
export function copy(e: KvEntry): KvEntry {
  return { ...e, value: e.value.slice() };
}
