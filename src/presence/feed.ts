/**
 * `BucketFeed`: one region's presence bucket (`placed.presence(region)`) as this node sees it:
 * the handle, a watch of every key, and when this node last heard from it.
 *
 * Every node keeps one feed per region of the deployment. The feed of its own region is the one
 * it writes to; its opening and recovery are driven by the owner's outage handling (kv.ts). The
 * feeds of the other regions are read-only and look after themselves: opened in the background,
 * reopened with backoff whenever opening fails or the watch ends, so a region that is down at
 * start, or whose watch breaks, is followed again as soon as it answers. A watch that merely
 * loses its region for a while is not restarted: both buses resume it and replay what it missed.
 *
 * `heardAt` is the local time of the last entry the watch delivered or the last successful
 * `probe`, the evidence regions.ts weighs before it lets a silent region's nodes expire.
 */
import type { Bus, Kv, KvEntry, KvWatch } from '../bus/types.js';
import { ErrorCode, isMeridianError } from '../errors/mod.js';
import { openKv, placed } from '../placement/mod.js';

export interface FeedHooks {
  /** A new watch of the bucket started: its snapshot follows, then the news. */
  started(feed: BucketFeed): void;
  entry(feed: BucketFeed, e: KvEntry): void;
  /** The watch ended under the feed (never after `stop`). A self-healing feed reopens it. */
  ended(feed: BucketFeed): void;
  /** The bus closed: nothing more will be heard from any bucket. */
  closed(): void;
  error(err: unknown): void;
}

export interface FeedOptions {
  readonly region: string;
  readonly keyTtlMs: number;
  /** Reopen by itself after failures (remote regions); the own region's owner does it instead. */
  readonly selfHealing: boolean;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export class BucketFeed {
  readonly region: string;
  kv: Kv | undefined;
  /** Local time the current watch was asked for: entries the bucket stored before are its snapshot. */
  startedAt = 0;
  /** Local time of the last entry delivered or probe answered; 0 before any. */
  heardAt = 0;
  /** Set once the current watch delivered an entry stored after `startedAt`: its snapshot is over. */
  snapshotDone = false;
  private watch: KvWatch | undefined;
  private stopped = false;
  private failing = false;
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private probing: Promise<KvEntry | null | undefined> | undefined;
  /** Local time the last probe was sent. */
  lastProbeAt = 0;

  constructor(
    private readonly bus: Bus,
    private readonly o: FeedOptions,
    private readonly hooks: FeedHooks,
  ) {
    this.region = o.region;
    this.retryMs = o.retryMinMs;
  }

  get watching(): boolean {
    return this.watch !== undefined;
  }

  /** Open the bucket and start the watch unless already done. Rejects when either fails. */
  async open(): Promise<void> {
    this.kv ??= await openKv(this.bus, placed.presence(this.region), { ttlMs: this.o.keyTtlMs });
    if (this.stopped || this.watch) return;
    const startedAt = Date.now();
    const w = await this.kv.watch({ key: '>' });
    if (this.stopped || this.watch) {
      w.stop();
      return;
    }
    this.watch = w;
    this.startedAt = startedAt;
    this.snapshotDone = false;
    this.hooks.started(this);
    void this.follow(w);
  }

  /**
   * Open a self-healing feed, retrying with backoff until it is open. Resolves after the first
   * attempt, whatever its outcome, so a start is never held up by a region that is down.
   */
  async start(): Promise<void> {
    try {
      await this.open();
      this.retryMs = this.o.retryMinMs;
      this.failing = false;
    } catch (err) {
      if (isMeridianError(err, ErrorCode.BusClosed)) {
        this.hooks.closed();
        return;
      }
      if (!this.failing) {
        this.failing = true;
        this.hooks.error(err);
      }
      this.retry();
    }
  }

  /**
   * Read one key straight from the bucket (a round trip to its region). Resolves with the entry
   * (null when the key holds nothing), or undefined when the bucket did not answer. One probe at
   * a time; a call while one is in flight shares it.
   */
  probe(key: string): Promise<KvEntry | null | undefined> {
    const kv = this.kv;
    if (!kv || this.stopped) return Promise.resolve(undefined);
    if (this.probing) return this.probing;
    this.lastProbeAt = Date.now();
    this.probing = kv.get(key).then(
      (e) => {
        this.probing = undefined;
        if (!this.stopped) this.heardAt = Date.now();
        return e;
      },
      () => {
        this.probing = undefined;
        return undefined;
      },
    );
    return this.probing;
  }

  get probeInFlight(): boolean {
    return this.probing !== undefined;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.watch?.stop();
    this.watch = undefined;
  }

  private async follow(w: KvWatch): Promise<void> {
    try {
      for await (const e of w) {
        if (this.stopped || this.watch !== w) break;
        this.heardAt = Date.now();
        this.hooks.entry(this, e);
      }
    } catch (err) {
      this.hooks.error(err);
    }
    if (this.stopped || this.watch !== w) return;
    // The watch ended under us (bus closed, or it failed): start another.
    this.watch = undefined;
    this.hooks.ended(this);
    if (this.o.selfHealing) this.retry();
  }

  private retry(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.o.retryMaxMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) void this.start();
    }, delay);
    this.retryTimer.unref();
  }
}
