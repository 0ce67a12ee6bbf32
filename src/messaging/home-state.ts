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
import type { CursorKind } from './keys.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAX_INDEXED = 100_000;

export class HomeState {
  readonly #bus: Bus;
  readonly #buckets = new Map<string, Promise<Kv>>();
  /** Inbox keys known to exist: a conversation's later messages skip the create. */
  readonly #indexed = new Set<string>();

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  /** Record that these users take part in a direct conversation homed here (idempotent). */
  async index(conversation: string, users: readonly string[]): Promise<void> {
    const todo = [...new Set(users)].map((u) => keys.inbox(u, conversation)).filter((k) => !this.#indexed.has(k));
    if (todo.length === 0) return;
    const kv = await this.#bucket(placed.inbox(this.#bus.region));
    await Promise.all(
      todo.map(async (k) => {
        try {
          await kv.create(k, new Uint8Array());
        } catch (err) {
          if (!isMeridianError(err, ErrorCode.KvKeyExists)) throw unavailable(err, 'the inbox index');
        }
        if (this.#indexed.size >= MAX_INDEXED) this.#indexed.clear();
        this.#indexed.add(k);
      }),
    );
  }

  /** The direct conversations homed here that `user` takes part in. */
  async inbox(user: string): Promise<string[]> {
    const kv = await this.#bucket(placed.inbox(this.#bus.region));
    const list = await this.#op(() => kv.keys(keys.inboxOf(user)));
    return list.map((k) => keys.inboxConversation(k));
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
