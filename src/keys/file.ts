/**
 * The keys file: JSON, one record per API key, never a secret —
 *
 *   { "version": 1,
 *     "keys": [ { "id": "3f9c0a1b2c3d4e5f", "hash": "sha256:…", "scopes": ["admin", "send"],
 *                 "created": "2030-01-01T00:00:00.000Z", "expires": "2030-02-01T00:00:00.000Z",
 *                 "note": "deploy bot" } ] }
 *
 * `expires` and `note` are optional. Every region node and the edge read the same content (the
 * operator distributes it like the topology file); `meridian keys` edits it. Writes are atomic
 * (a temp file in the same directory, fsync, rename) with mode 0600, under a lock file
 * (`FILE.lock`) so two `meridian keys` runs do not lose each other's change.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { generateKey, HASH_PATTERN, ID_PATTERN } from './key.js';
import { isScope, parseScopes, SCOPES } from './scopes.js';
import type { Scope } from './scopes.js';

export interface KeyRecord {
  readonly id: string;
  /** `sha256:<base64url>` of the whole key. */
  readonly hash: string;
  readonly scopes: readonly Scope[];
  /** ISO 8601. */
  readonly created: string;
  /** ISO 8601; absent: never expires. */
  readonly expires?: string;
  readonly note?: string;
}

/** What `meridian keys list` shows of a key: everything but its hash. */
export interface KeyInfo {
  readonly id: string;
  readonly scopes: readonly Scope[];
  readonly created: string;
  readonly expires: string | null;
  readonly expired: boolean;
  readonly note: string | null;
}

export const MAX_NOTE = 200;
export const MAX_KEYS = 10_000;
const FIELDS = new Set(['id', 'hash', 'scopes', 'created', 'expires', 'note']);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

function bad(file: string, message: string): MeridianError {
  return new MeridianError(ErrorCode.KeysInvalidFile, `${file}: ${message}`, { details: { file } });
}

/** A note as stored: printable, at most MAX_NOTE characters. Throws KEYS_INVALID_ARGUMENT. */
export function checkNote(note: string): string {
  // eslint-disable-next-line no-control-regex
  if (note.length > MAX_NOTE || /[\u0000-\u001f\u007f]/.test(note)) {
    throw new MeridianError(ErrorCode.KeysInvalidArgument, `a note is at most ${MAX_NOTE} printable characters`);
  }
  return note;
}

/** The records of a keys file's text; every problem is KEYS_INVALID_FILE naming `file` and the field. */
export function parseKeysFile(text: string, file = 'keys file'): KeyRecord[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(file, `not valid JSON (${(err as Error).message.slice(0, 120)})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad(file, 'must be a JSON object { "version": 1, "keys": [...] }');
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'version' && k !== 'keys') throw bad(file, `unknown field ${JSON.stringify(k.slice(0, 40))}`);
  if (top['version'] !== 1) throw bad(file, 'version must be 1');
  const keys = top['keys'];
  if (!Array.isArray(keys)) throw bad(file, 'keys must be an array');
  if (keys.length > MAX_KEYS) throw bad(file, `at most ${MAX_KEYS} keys`);
  const ids = new Set<string>();
  return keys.map((raw: unknown, i): KeyRecord => {
    const at = `keys[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(file, `${at} must be an object`);
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!FIELDS.has(k)) throw bad(file, `${at}: unknown field ${JSON.stringify(k.slice(0, 40))}`);
    const { id, hash, scopes, created, expires, note } = r;
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw bad(file, `${at}.id must be 16 hex digits`);
    if (ids.has(id)) throw bad(file, `${at}.id ${id} appears twice`);
    ids.add(id);
    if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) throw bad(file, `${at}.hash must be "sha256:" and 43 base64url characters`);
    if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !isScope(s))) throw bad(file, `${at}.scopes must list scopes among ${SCOPES.join(', ')}`);
    let parsed: Scope[];
    try {
      parsed = parseScopes(scopes as string[]);
    } catch (err) {
      throw bad(file, `${at}.scopes: ${(err as Error).message}`);
    }
    if (typeof created !== 'string' || !ISO.test(created)) throw bad(file, `${at}.created must be an ISO 8601 UTC time`);
    if (expires !== undefined && (typeof expires !== 'string' || !ISO.test(expires))) throw bad(file, `${at}.expires must be an ISO 8601 UTC time`);
    if (note !== undefined) {
      if (typeof note !== 'string') throw bad(file, `${at}.note must be a string`);
      try {
        checkNote(note);
      } catch (err) {
        throw bad(file, `${at}.note: ${(err as Error).message}`);
      }
    }
    return { id, hash, scopes: parsed, created, ...(expires === undefined ? {} : { expires }), ...(note === undefined ? {} : { note }) };
  });
}

export function serializeKeysFile(keys: readonly KeyRecord[]): string {
  const rows = keys.map((k) => ({ id: k.id, hash: k.hash, scopes: k.scopes, created: k.created, ...(k.expires === undefined ? {} : { expires: k.expires }), ...(k.note === undefined ? {} : { note: k.note }) }));
  return `${JSON.stringify({ version: 1, keys: rows }, null, 2)}\n`;
}

/** The records of `file`; a missing file is `[]` when `missingOk`, else KEYS_INVALID_FILE. */
export async function readKeysFile(file: string, opts: { missingOk?: boolean } = {}): Promise<KeyRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.missingOk === true) return [];
    throw new MeridianError(ErrorCode.KeysInvalidFile, code === 'ENOENT' ? `${file}: no such keys file (create one with meridian keys create --file ${file} --scopes ...)` : `${file}: cannot be read (${code ?? (err as Error).message})`, { cause: err, details: { file } });
  }
  return parseKeysFile(text, file);
}

/** Replace `file` with `keys` atomically: temp file (0600) in the same directory, fsync, rename. */
export async function writeKeysFile(file: string, keys: readonly KeyRecord[]): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(serializeKeysFile(keys), 'utf8');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** A lock older than this is left over from a crashed run and is taken over. */
const STALE_LOCK_MS = 30_000;

/** Run `fn` holding `FILE.lock` (created exclusively); KEYS_FILE_LOCKED after `waitMs`. */
export async function withKeysLock<T>(file: string, fn: () => Promise<T>, waitMs = 5000): Promise<T> {
  const lock = `${file}.lock`;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const fh = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const s = await stat(lock).catch(() => undefined);
      if (s !== undefined && Date.now() - s.mtimeMs > STALE_LOCK_MS) {
        await unlink(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() >= until) throw new MeridianError(ErrorCode.KeysFileLocked, `${file} is being changed by another meridian keys (${lock} exists; remove it if no other run is going on)`, { details: { file } });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

export interface CreateKeyOptions {
  readonly scopes: readonly Scope[];
  readonly note?: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt?: number;
  readonly now?: number;
}

export interface CreatedKey {
  /** The whole key: shown once, never stored. */
  readonly key: string;
  readonly record: KeyRecord;
}

/** A new key record (and its key) without touching any file. */
export function newKeyRecord(o: CreateKeyOptions): CreatedKey {
  if (o.scopes.length === 0) throw new MeridianError(ErrorCode.KeysInvalidScope, 'name at least one scope');
  const scopes = parseScopes(o.scopes);
  const now = o.now ?? Date.now();
  if (o.expiresAt !== undefined && !(o.expiresAt > now)) throw new MeridianError(ErrorCode.KeysInvalidArgument, 'the expiry must be in the future');
  const k = generateKey();
  const record: KeyRecord = {
    id: k.id,
    hash: k.hash,
    scopes,
    created: new Date(now).toISOString(),
    ...(o.expiresAt === undefined ? {} : { expires: new Date(o.expiresAt).toISOString() }),
    ...(o.note === undefined || o.note === '' ? {} : { note: checkNote(o.note) }),
  };
  return { key: k.key, record };
}

/**
 * Add a new key to `file` (created, 0600, if missing). `replace` removes the records it matches
 * in the same write (`meridian up` replaces the key it made on an earlier run).
 */
export async function createKey(file: string, o: CreateKeyOptions & { replace?: (r: KeyRecord) => boolean }): Promise<CreatedKey> {
  const made = newKeyRecord(o);
  await withKeysLock(file, async () => {
    const keys = await readKeysFile(file, { missingOk: true });
    const kept = o.replace === undefined ? keys : keys.filter((r) => !o.replace!(r));
    if (kept.length >= MAX_KEYS) throw new MeridianError(ErrorCode.KeysInvalidArgument, `${file} already holds ${MAX_KEYS} keys`);
    await writeKeysFile(file, [...kept, made.record]);
  });
  return made;
}

/** Remove key `id` from `file`: the record it was. Throws KEYS_UNKNOWN_ID. */
export async function revokeKey(file: string, id: string): Promise<KeyRecord> {
  return withKeysLock(file, async () => {
    const keys = await readKeysFile(file);
    const found = keys.find((r) => r.id === id);
    if (found === undefined) throw new MeridianError(ErrorCode.KeysUnknownId, `no key ${JSON.stringify(id.slice(0, 40))} in ${file}`, { details: { id: id.slice(0, 40), file } });
    await writeKeysFile(file, keys.filter((r) => r.id !== id));
    return found;
  });
}

export function keyInfo(r: KeyRecord, now = Date.now()): KeyInfo {
  return { id: r.id, scopes: r.scopes, created: r.created, expires: r.expires ?? null, expired: r.expires !== undefined && Date.parse(r.expires) <= now, note: r.note ?? null };
}

/** The keys of `file` as `meridian keys list` shows them: no hash. */
export async function listKeys(file: string, now = Date.now()): Promise<KeyInfo[]> {
  return (await readKeysFile(file)).map((r) => keyInfo(r, now));
}
