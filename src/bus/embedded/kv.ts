/**
 * KV handles of the embedded bus. A bucket lives in its home region (a `BucketStore`); every
 * call from a bus elsewhere is a round trip over the simulated WAN, and every change reaches
 * watchers after the one-way latency from home, in revision order.
 */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { assertBucketName, assertKvKey } from '../subjects.js';
import type { Kv, KvEntry, KvOptions, KvWatch, KvWatchOptions } from '../types.js';
import { closedError } from './core.js';
import type { WanCore } from './core.js';
import { BucketStore, copy } from './kv-store.js';
import type { StoreWatcher, WriteCondition } from './kv-store.js';
import { AsyncQueue } from './queue.js';

/** What a KV handle needs from the bus that opened it. */
export interface KvOwner {
  readonly region: string;
  readonly maxPayload: number;
  readonly closed: boolean;
  track(watch: { stop(): void }): void;
  untrack(watch: { stop(): void }): void;
}

const MAX_HISTORY = 64;

/** Open a bucket, creating it in its home region on first use. Options apply at creation. */
export async function openKv(core: WanCore, owner: KvOwner, bucket: string, opts: KvOptions = {}): Promise<Kv> {
  if (owner.closed) throw closedError(owner.region);
  assertBucketName(bucket);
  const ttlMs = opts.ttlMs ?? 0;
  const history = opts.history ?? 1;
  if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new MeridianError(ErrorCode.InvalidArgument, `ttlMs must be >= 0, got ${ttlMs}`);
  if (!Number.isInteger(history) || history < 1 || history > MAX_HISTORY) {
    throw new MeridianError(ErrorCode.InvalidArgument, `history must be an integer from 1 to ${MAX_HISTORY}, got ${history}`);
  }
  if (opts.region !== undefined) core.assertRegion(opts.region);
  const home = core.buckets.get(bucket)?.home ?? opts.region ?? owner.region;
  const store = await core.roundTrip(owner.region, home, () => {
    // Looked up again at home: another region may have created it while this request flew.
    let s = core.buckets.get(bucket);
    if (!s) core.buckets.set(bucket, (s = new BucketStore(bucket, home, ttlMs, history)));
    return s;
  });
  if (owner.closed) throw closedError(owner.region);
  return new EmbeddedKv(core, owner, store);
}

class EmbeddedKv implements Kv {
  readonly bucket: string;

  constructor(
    private readonly core: WanCore,
    private readonly owner: KvOwner,
    private readonly store: BucketStore,
  ) {
    this.bucket = store.bucket;
  }

  async get(key: string): Promise<KvEntry | null> {
    assertKvKey(key);
    return await this.call((s) => s.get(key));
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    return await this.write(key, value, { kind: 'any' });
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    return await this.write(key, value, { kind: 'create' });
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return await this.write(key, value, { kind: 'update', revision });
  }

  async delete(key: string): Promise<void> {
    assertKvKey(key);
    await this.call((s) => s.write(key, new Uint8Array(0), 'DEL'));
  }

  async keys(pattern = '>'): Promise<string[]> {
    assertKvKey(pattern, true);
    return await this.call((s) => s.keys(pattern));
  }

  async watch(opts: KvWatchOptions = {}): Promise<KvWatch> {
    const filter = opts.key ?? '>';
    assertKvKey(filter, true);
    if (this.owner.closed) throw closedError(this.owner.region);
    const watch = new EmbeddedWatch(this.core, this.store, this.owner, filter);
    try {
      await this.call(
        (s) => {
          watch.lastRevision = s.revision;
          s.watchers.add(watch);
          return opts.initial === false ? [] : s.snapshot(filter);
        },
        // Queued on arrival, before any change that left home after the snapshot.
        (initial) => initial.forEach((e) => watch.push(e)),
      );
    } catch (err) {
      watch.stop();
      throw err;
    }
    return watch;
  }

  private async write(key: string, value: Uint8Array, cond: WriteCondition): Promise<number> {
    assertKvKey(key);
    if (value.byteLength > this.owner.maxPayload) {
      throw new MeridianError(ErrorCode.BusPayloadTooLarge, `value of ${value.byteLength} bytes exceeds ${this.owner.maxPayload}`, {
        details: { size: value.byteLength, maxPayload: this.owner.maxPayload },
      });
    }
    const bytes = value.slice();
    return await this.call((s) => s.write(key, bytes, 'PUT', cond).revision);
  }

  private async call<T>(atHome: (s: BucketStore) => T, onReturn?: (value: T) => void): Promise<T> {
    if (this.owner.closed) throw closedError(this.owner.region);
    try {
      const value = await this.core.roundTrip(this.owner.region, this.store.home, () => atHome(this.store), onReturn);
      if (this.owner.closed) throw closedError(this.owner.region);
      return value;
    } catch (err) {
      throw this.owner.closed ? closedError(this.owner.region) : err;
    }
  }
}

/**
 * A watch in the owner's region. Each change travels from home on the FIFO link; if some were
 * lost while the region or link was down, the next arrival (or a resync on recovery) first
 * replays what the bucket still holds since the last revision seen.
 */
class EmbeddedWatch implements KvWatch, StoreWatcher {
  lastRevision = 0;
  /** Set when a change could not reach this region: the next arrival replays from the bucket. */
  private gap = false;
  private readonly queue: AsyncQueue<KvEntry>;

  constructor(
    private readonly core: WanCore,
    private readonly store: BucketStore,
    private readonly owner: KvOwner,
    readonly filter: string,
  ) {
    this.queue = new AsyncQueue<KvEntry>(() => this.stop());
    owner.track(this);
  }

  push(entry: KvEntry): void {
    this.queue.push(entry);
  }

  onChange(entry: KvEntry): void {
    this.core.send(this.store.home, this.owner.region, () => this.arrive(entry.revision, entry), () => {
      this.gap = true;
    });
  }

  resync(): void {
    const upTo = this.store.revision;
    this.core.send(this.store.home, this.owner.region, () => this.arrive(upTo + 1));
  }

  stop(): void {
    this.store.watchers.delete(this);
    this.owner.untrack(this);
    this.queue.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<KvEntry> {
    return this.queue;
  }

  private arrive(before: number, entry?: KvEntry): void {
    if (this.queue.isEnded) return;
    // Anything the bucket still holds between the last revision seen and this one was lost on
    // the way (region down, link cut): replay it first so the watcher stays in revision order.
    if (this.gap || !entry) {
      this.gap = false;
      for (const missed of this.store.between(this.lastRevision, before, this.filter)) {
        this.queue.push(missed);
        this.lastRevision = missed.revision;
      }
    }
    if (!entry) this.lastRevision = Math.max(this.lastRevision, before - 1);
    else if (entry.revision > this.lastRevision) {
      this.queue.push(copy(entry));
      this.lastRevision = entry.revision;
    }
  }
}
