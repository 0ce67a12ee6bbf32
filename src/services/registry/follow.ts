/**
 * Following one region's workers bucket: open it (through the placement module), watch it into its
 * `BucketView`, and keep doing so. A bucket whose region is unreachable is retried in the
 * background with backoff, so a node starts and serves while another region is down; a watch that
 * ends while open is started again. While a region is unreachable its bucket's view simply stops
 * changing: its workers turn stale here unless they heartbeat through another region's node.
 */
import type { Bus, Kv, KvWatch } from '../../bus/types.js';
import { openKv } from '../../placement/mod.js';
import type { Place } from '../../placement/mod.js';
import type { BucketView } from './view.js';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;

export interface FollowerOptions {
  readonly bus: Bus;
  readonly place: Place;
  readonly ttlMs: number;
  readonly view: BucketView;
  readonly report: (err: unknown) => void;
}

export class BucketFollower {
  /** The open bucket (undefined until the first open succeeded). */
  kv: Kv | undefined;
  /** Watches started again after the first one. */
  restarts = 0;
  private watch: KvWatch | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly o: FollowerOptions) {}

  get region(): string {
    return this.o.place.region;
  }

  /** One attempt: open the bucket and start following it. Rejects when the bucket is unreachable. */
  async connect(): Promise<void> {
    this.kv ??= await openKv(this.o.bus, this.o.place, { ttlMs: this.o.ttlMs });
    const watch = await this.kv.watch();
    if (this.closed) return watch.stop();
    if (this.started) this.restarts++;
    this.started = true;
    this.watch = watch;
    void this.follow(watch);
  }

  /**
   * `connect`, with a few attempts: nodes of several regions opening each other's buckets at once
   * can make a creation fail (JetStream answers concurrent creates of one stream with a conflict).
   */
  async connectWithRetries(attempts: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connect();
      } catch (err) {
        if (attempt >= attempts || this.closed) throw err;
      }
      await new Promise((r) => setTimeout(r, FIRST_RETRY_MS * attempt));
    }
  }

  /** Keep trying `connect` until it succeeds or the follower stops. */
  connectInBackground(): void {
    void this.retry();
  }

  stop(): void {
    this.closed = true;
    this.watch?.stop();
  }

  private async follow(watch: KvWatch): Promise<void> {
    try {
      for await (const entry of watch) this.o.view.apply(entry);
    } catch (err) {
      this.o.report(err);
    }
    if (!this.closed) await this.retry();
  }

  private async retry(): Promise<void> {
    for (let delay = FIRST_RETRY_MS; !this.closed; delay = Math.min(delay * 2, MAX_RETRY_MS)) {
      try {
        return await this.connect();
      } catch (err) {
        this.o.report(err);
      }
      await new Promise((r) => setTimeout(r, delay).unref());
    }
  }
}
