/**
 * What a conversation keeps beside its log, at its home: the inbox index and the cursors, in
 * this region's buckets (`placed.inbox(region)`, `placed.cursors(region)`, src/placement). Only
 * the home's nodes touch them, so every read and write here is local to the region; other
 * regions reach them through the home's node (messaging.ts forwards `ack`, `cursor` and
 * `pending` over the log rpc).
 *
 * The buckets are opened lazily and reopened after a failure (the region's servers may be
 * restarting).
 */
import type { Bus, Kv } from '../bus/types.js';
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import { openKv, placed } from '../placement/mod.js';
import type { Place } from '../placement/mod.js';
import { unavailable } from './errors.js';
import { keys } from './keys.js';
import { unKvToken } from '../bus/subjects.js';
import type { KvEntry } from '../bus/types.js';
import type { CursorKind } from './keys.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAX_INDEXED = 100_000;

export class HomeState {
  readonly #bus: Bus;
  readonly #buckets = new Map<string, Promise<Kv>>();
  /** (user, conversation) pairs known indexed: a conversation's later messages skip the write. */
  readonly #indexed = new Set<string>();
  #inboxReady: Promise<Kv> | undefined;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  /** Record that these users take part in a direct conversation homed here (idempotent). */
  async index(conversation: string, users: readonly string[]): Promise<void> {
    const todo = [...new Set(users)].filter((u) => !this.#indexed.has(keys.inbox(u, conversation)));
    if (todo.length === 0) return;
    const kv = await this.#inboxBucket();
    await Promise.all(
      todo.map(async (u) => {
        await editList(kv, u, (list) => (list.includes(conversation) ? undefined : [...list, conversation]));
        if (this.#indexed.size >= MAX_INDEXED) this.#indexed.clear();
        this.#indexed.add(keys.inbox(u, conversation));
      }),
    );
  }

  /** The direct conversations homed here that `user` takes part in: one get, no key listing. */
  async inbox(user: string): Promise<string[]> {
    const kv = await this.#inboxBucket();
    return readList(await this.#op(() => kv.get(keys.inboxList(user))));
  }

  async cursor(kind: CursorKind, user: string, conversation: string): Promise<number> {
    const kv = await this.#bucket(placed.cursors(this.#bus.region));
    const e = await this.#op(() => kv.get(keys.cursor(kind, user, conversation)));
    return e ? Number(dec.decode(e.value)) || 0 : 0;
  }

  /** Raise a cursor to `seq` (never lower it); returns the value it had. */
  async raise(kind: CursorKind, user: string, conversation: string, seq: number): Promise<number> {
    const kv = await this.#bucket(placed.cursors(this.#bus.region));
    const key = keys.cursor(kind, user, conversation);
    for (let attempt = 0; attempt < 20; attempt++) {
      const cur = await this.#op(() => kv.get(key));
      const value = cur ? Number(dec.decode(cur.value)) || 0 : 0;
      if (value >= seq) return value;
      try {
        if (cur) await kv.update(key, enc.encode(String(seq)), cur.revision);
        else await kv.create(key, enc.encode(String(seq)));
        return value;
      } catch (err) {
        if (isMeridianError(err) && (err.code === ErrorCode.KvWrongRevision || err.code === ErrorCode.KvKeyExists)) continue;
        throw unavailable(err, 'the cursors');
      }
    }
    throw new MeridianError(ErrorCode.MsgUnavailable, `cursor ${key} is contended; try again`);
  }

  /** The inbox bucket; the first open folds the earlier per-pair keys into the lists (once per node). */
  #inboxBucket(): Promise<Kv> {
    return (this.#inboxReady ??= (async () => {
      const kv = await this.#bucket(placed.inbox(this.#bus.region));
      await this.#fold(kv);
      return kv;
    })().catch((err: unknown) => {
      this.#inboxReady = undefined;
      throw unavailable(err, 'the inbox index');
    }));
  }

  /** Fold `<user>.<conversation>` keys (the earlier form) into the users' lists, then delete them. */
  async #fold(kv: Kv): Promise<void> {
    const old = await kv.keys('*.*');
    if (old.length === 0) return;
    const byUser = new Map<string, string[]>();
    for (const k of old) {
      const user = unKvToken(k.slice(0, k.indexOf('.')));
      byUser.set(user, [...(byUser.get(user) ?? []), keys.inboxConversation(k)]);
    }
    for (const [user, conversations] of byUser) await editList(kv, user, (list) => (conversations.every((c) => list.includes(c)) ? undefined : [...new Set([...list, ...conversations])]));
    for (const k of old) await kv.delete(k);
  }

  #bucket(place: Place): Promise<Kv> {
    let p = this.#buckets.get(place.name);
    if (!p) {
      p = openKv(this.#bus, place);
      this.#buckets.set(place.name, p);
      p.catch(() => this.#buckets.delete(place.name));
    }
    return p.catch((err: unknown) => {
      throw unavailable(err, `bucket ${place.name}`);
    });
  }

  async #op<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw unavailable(err, 'messaging state');
    }
  }
}

function readList(e: KvEntry | null): string[] {
  if (e === null || e.value.length === 0) return [];
  try {
    const v: unknown = JSON.parse(dec.decode(e.value));
    return Array.isArray(v) ? v.filter((c): c is string => typeof c === 'string') : [];
  } catch {
    return [];
  }
}

/** Delete every key matching `pattern`; how many. */
async function deleteMatching(kv: Kv, pattern: string): Promise<number> {
  const found = await kv.keys(pattern);
  for (const k of found) await kv.delete(k);
  return found.length;
}

/** Compare-and-set a user's inbox list: `change` returns the new list, or undefined to leave it. */
async function editList(kv: Kv, user: string, change: (list: readonly string[]) => string[] | undefined): Promise<void> {
  const key = keys.inboxList(user);
  for (let attempt = 0; attempt < 20; attempt++) {
    let cur: KvEntry | null;
    try {
      cur = await kv.get(key);
    } catch (err) {
      throw unavailable(err, 'the inbox index');
    }
    const next = change(readList(cur));
    if (next === undefined) return;
    try {
      if (cur) await kv.update(key, enc.encode(JSON.stringify(next)), cur.revision);
      else await kv.create(key, enc.encode(JSON.stringify(next)));
      return;
    } catch (err) {
      if (isMeridianError(err) && (err.code === ErrorCode.KvWrongRevision || err.code === ErrorCode.KvKeyExists)) continue;
      throw unavailable(err, 'the inbox index');
    }
  }
  throw new MeridianError(ErrorCode.MsgUnavailable, `inbox ${key} is contended; try again`);
}

/**
 * Erasure (src/erasure), on a region's inbox bucket: remove a user's list, or a direct
 * conversation from its users' lists, and the earlier per-pair keys; how many (user,
 * conversation) entries went.
 */
export async function eraseInboxIndex(kv: Kv, subject: { readonly user: string } | { readonly conversation: string; readonly users: readonly string[] }): Promise<number> {
  let removed = 0;
  if ('user' in subject) {
    const list = readList(await kv.get(keys.inboxList(subject.user)));
    if (list.length > 0) await kv.delete(keys.inboxList(subject.user));
    return list.length + (await deleteMatching(kv, keys.inboxOf(subject.user)));
  }
  for (const u of new Set(subject.users)) {
    await editList(kv, u, (list) => {
      if (!list.includes(subject.conversation)) return undefined;
      removed++;
      return list.filter((c) => c !== subject.conversation);
    });
  }
  return removed + (await deleteMatching(kv, keys.inboxWith(subject.conversation)));
}
