/**
 * Which region homes a conversation: its log stores the messages and assigns the seqs.
 *
 * The home is the region of the first sender (so a conversation between EU users is stored in
 * the EU when the edge keeps EU clients in EU regions), fixed with a create-if-absent in the KV
 * bucket `mrd-homes`: of two regions racing to create it, one wins and both read the winner.
 * A home never changes, so it is cached for good (bounded, oldest dropped first).
 *
 * When the bucket has no entry, the logs are asked first (`lasts` to every region): a bucket
 * that lost its data (the embedded bus keeps KV in memory, so `meridian up --data DIR` restarts
 * with an empty bucket) must not re-home a conversation whose log exists, which would restart
 * its seqs elsewhere. Unreachable regions are skipped after a short timeout; a conversation homed
 * in a region that is unreachable at that moment could then be re-homed — the one known gap,
 * closed as soon as the bucket has the entry.
 */
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import type { Kv } from '../bus/types.js';
import { unavailable } from './errors.js';
import { keys } from './keys.js';

const MAX_CACHED = 100_000;
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface HomeLookup {
  /** The bucket, opened lazily (its home region may be unreachable at start). */
  kv(): Promise<Kv>;
  /** Highest seq each region's log has for the conversation (regions that answered). */
  probeLogs(conversation: string): Promise<Map<string, number>>;
}

export class Homes {
  readonly #cache = new Map<string, string>();
  readonly #inflight = new Map<string, Promise<string | null>>();
  readonly #lookup: HomeLookup;

  constructor(lookup: HomeLookup) {
    this.#lookup = lookup;
  }

  /** The home if the conversation has one (recorded, or found in a log), else null: nothing new is homed. */
  async find(conversation: string): Promise<string | null> {
    return this.#resolve(conversation, null);
  }

  /** The home, making `region` the home if the conversation has none yet. */
  async resolve(conversation: string, region: string): Promise<string> {
    const home = await this.#resolve(conversation, region);
    if (home === null) throw new MeridianError(ErrorCode.MsgUnavailable, `no home for ${conversation}`);
    return home;
  }

  #resolve(conversation: string, createAs: string | null): Promise<string | null> {
    const cached = this.#cache.get(conversation);
    if (cached !== undefined) return Promise.resolve(cached);
    const key = `${createAs ?? ''}\0${conversation}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#load(conversation, createAs).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  async #load(conversation: string, createAs: string | null): Promise<string | null> {
    const kv = await this.#kvOrUnavailable();
    const key = keys.home(conversation);
    const existing = await this.#get(kv, key);
    if (existing !== null) return this.#remember(conversation, existing);
    // No entry: a log that already has the conversation wins over the sender's region, for
    // reads too (after a restart with an empty bucket, history must not look empty).
    const lasts = await this.#lookup.probeLogs(conversation);
    let found: string | null = null;
    let best = 0;
    for (const [region, last] of lasts) {
      if (last > best) {
        best = last;
        found = region;
      }
    }
    const chosen = found ?? createAs;
    if (chosen === null) return null;
    try {
      await kv.create(key, enc.encode(chosen));
      return this.#remember(conversation, chosen);
    } catch (err) {
      if (isMeridianError(err) && err.code === ErrorCode.KvKeyExists) {
        const winner = await this.#get(kv, key);
        if (winner !== null) return this.#remember(conversation, winner);
      }
      throw unavailable(err, `the home region of ${conversation}`);
    }
  }

  async #kvOrUnavailable(): Promise<Kv> {
    try {
      return await this.#lookup.kv();
    } catch (err) {
      throw unavailable(err, 'the homes bucket');
    }
  }

  async #get(kv: Kv, key: string): Promise<string | null> {
    try {
      const e = await kv.get(key);
      return e ? dec.decode(e.value) : null;
    } catch (err) {
      throw unavailable(err, `the home region of ${key}`);
    }
  }

  #remember(conversation: string, region: string): string {
    if (this.#cache.size >= MAX_CACHED) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(conversation, region);
    return region;
  }
}
