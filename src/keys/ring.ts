/**
 * The API keys a node or the edge accepts, read from the keys file and re-read when it changes
 * (its size, mtime, ctime or inode, polled every `pollMs`, one second by default), so revoking
 * or adding a key takes effect within about a second, without a restart. A file that cannot be
 * read or does not parse is refused as a whole: the last good set stays in force and an error is
 * logged (once per version of the file). Opening fails on a bad file: there is no good set yet.
 *
 * A presented key is looked up by its id, then its SHA-256 digest is compared in constant time
 * with the stored one; an expired key is refused like an unknown one (401), with its own reason.
 */
import { stat, readFile } from 'node:fs/promises';
import type { Logger } from '../observability/logger.js';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { KeyRecord } from './file.js';
import { parseKeysFile } from './file.js';
import { digestOf, keyId, keyMatches } from './key.js';
import type { Scope } from './scopes.js';

export type KeyCheck =
  | { readonly ok: true; readonly id: string; readonly scopes: ReadonlySet<Scope> }
  | { readonly ok: false; readonly id: string; readonly reason: 'unknown' | 'expired' };

/** What a reload changed, by key id (never a secret or hash). */
export interface KeyChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Scopes, expiry or hash changed in place (an edit by hand). */
  readonly changed: readonly string[];
  /** Keys in force after the reload. */
  readonly count: number;
}

export interface KeyRingOptions {
  /** How often the file is looked at; default 1000 ms. 0: never (reload() only). */
  readonly pollMs?: number;
  /** Where reloads and refused files are logged. */
  readonly log?: Logger;
  /** Milliseconds since the epoch, for expiry; default Date.now. */
  readonly clock?: () => number;
}

interface Entry {
  readonly record: KeyRecord;
  readonly digest: Buffer;
  readonly scopes: ReadonlySet<Scope>;
  readonly expiresAt: number;
}

export const DEFAULT_KEYS_POLL_MS = 1000;

function entries(records: readonly KeyRecord[]): Map<string, Entry> {
  const m = new Map<string, Entry>();
  for (const r of records) {
    m.set(r.id, { record: r, digest: digestOf(r.hash)!, scopes: new Set(r.scopes), expiresAt: r.expires === undefined ? Infinity : Date.parse(r.expires) });
  }
  return m;
}

function same(a: KeyRecord, b: KeyRecord): boolean {
  return a.hash === b.hash && a.expires === b.expires && a.scopes.join(',') === b.scopes.join(',');
}

export class KeyRing {
  readonly file: string;
  #keys: Map<string, Entry>;
  #signature: string;
  #lastError: string | undefined;
  #busy: Promise<boolean> | undefined;
  readonly #listeners = new Set<(c: KeyChange) => void>();
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #log: Logger | undefined;
  readonly #clock: () => number;

  private constructor(file: string, records: readonly KeyRecord[], signature: string, o: KeyRingOptions) {
    this.file = file;
    this.#keys = entries(records);
    this.#signature = signature;
    this.#log = o.log;
    this.#clock = o.clock ?? Date.now;
    const every = o.pollMs ?? DEFAULT_KEYS_POLL_MS;
    if (every > 0) {
      this.#timer = setInterval(() => void this.reload(), every);
      this.#timer.unref();
    }
  }

  /** Read `file` now and keep watching it. Throws KEYS_INVALID_FILE when it cannot be used. */
  static async open(file: string, o: KeyRingOptions = {}): Promise<KeyRing> {
    const { records, signature } = await load(file);
    return new KeyRing(file, records, signature, o);
  }

  /** Keys in force (expired ones included until they are removed from the file). */
  get size(): number {
    return this.#keys.size;
  }

  /** The ids in force. */
  ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** Why the file's current version was refused, if it was (the last good set is in force). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /**
   * A presented bearer value: undefined when it is not shaped like an API key (`mrd_<id>_<secret>`:
   * treat it as another credential), else the key's verdict. `digest` is the token's SHA-256
   * (base64url) when the caller has it already (it is not computed again). Nothing is cached: a key removed
   * from the file is refused from the reload that notices it.
   */
  check(token: string, digest?: string): KeyCheck | undefined {
    const id = keyId(token);
    if (id === undefined) return undefined;
    const e = this.#keys.get(id);
    if (e === undefined || !keyMatches(token, e.digest, digest)) return { ok: false, id, reason: 'unknown' };
    if (this.#clock() >= e.expiresAt) return { ok: false, id, reason: 'expired' };
    return { ok: true, id, scopes: e.scopes };
  }

  /** Called after every reload that changed the set; returns the unsubscribe. */
  onChange(fn: (c: KeyChange) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Look at the file now (the poll does this every `pollMs`); true when the set changed. */
  reload(): Promise<boolean> {
    this.#busy ??= this.#reload().finally(() => (this.#busy = undefined));
    return this.#busy;
  }

  async #reload(): Promise<boolean> {
    const sig = await signatureOf(this.file);
    if (sig === this.#signature) return false;
    let loaded: { records: KeyRecord[]; signature: string };
    try {
      loaded = await load(this.file);
    } catch (err) {
      // Remember this version as seen: the error is logged once, until the file changes again.
      this.#signature = sig;
      this.#lastError = (err as Error).message;
      this.#log?.error({ event: 'keys_refused', file: this.file, err: this.#lastError, keys: this.#keys.size }, 'keys file refused: the last good set stays in force');
      return false;
    }
    this.#signature = loaded.signature;
    this.#lastError = undefined;
    const next = entries(loaded.records);
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const [id, e] of next) {
      const old = this.#keys.get(id);
      if (old === undefined) added.push(id);
      else if (!same(old.record, e.record)) changed.push(id);
    }
    for (const id of this.#keys.keys()) if (!next.has(id)) removed.push(id);
    this.#keys = next;
    if (added.length + removed.length + changed.length === 0) return false;
    const change: KeyChange = { added, removed, changed, count: next.size };
    this.#log?.info({ event: 'keys_reloaded', file: this.file, ...change }, 'keys file reloaded');
    for (const fn of this.#listeners) {
      try {
        fn(change);
      } catch (err) {
        this.#log?.error({ event: 'keys_listener_failed', err: (err as Error).message }, 'a keys change listener failed');
      }
    }
    return true;
  }

  /** Stop watching the file. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#listeners.clear();
  }
}

async function signatureOf(file: string): Promise<string> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}

/** The file's records and the signature of the version read (taken before reading it). */
async function load(file: string): Promise<{ records: KeyRecord[]; signature: string }> {
  const signature = await signatureOf(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MeridianError(ErrorCode.KeysInvalidFile, `${file}: ${code === 'ENOENT' ? 'no such keys file (create one with meridian keys create)' : `cannot be read (${code ?? (err as Error).message})`}`, { cause: err, details: { file } });
  }
  return { records: parseKeysFile(text, file), signature };
}
