/**
 * The other regions' presence, as this node follows it: one read-only `BucketFeed` per region of
 * the deployment other than its own, merged into the node's view, and the judgement of whether a
 * silent region's nodes may expire.
 *
 * Entries: a bucket holds only the keys of its own region's nodes; anything else in it is
 * ignored. Entries the bucket stored before the watch started (its snapshot) are aged by their
 * timestamp, so a node that died before this view started is not taken for fresh; later ones are
 * news, judged on this view's clock. The first news entry proves the snapshot complete (revision
 * order), and whatever a restarted watch's snapshot did not confirm is dropped then.
 *
 * Silence: a region is *heard* while its bucket delivered something within 1.5 beats (its live
 * nodes beat every ttl/3). When one of its nodes is overdue (ttl without a beat) and the region has
 * been quiet, that is either the node's death or the region's (or the link's): the view probes the
 * bucket, one read of the overdue node's liveness key. An answer means the bucket is reachable and
 * the node really silent: it expires at once (or the answer is a newer beat, and it is fresh). No
 * answer means the region is down or cut off from here: its nodes get `graceMs` beyond the ttl,
 * time for their users to reconnect elsewhere, and then expire. Nothing of another region is ever
 * written here: its own nodes collect its dead keys.
 */
import type { Bus, KvEntry } from '../bus/types.js';
import { BucketFeed } from './feed.js';
import { decodeNode, decodeRecord, keys, parseKey } from './keys.js';
import type { NodeSlot, PresenceView } from './view.js';

export interface RemoteOptions {
  readonly bus: Bus;
  /** The deployment's regions other than this node's. */
  readonly regions: readonly string[];
  readonly view: PresenceView;
  readonly keyTtlMs: number;
  /** The beat period of every node (ttl/3). */
  readonly refreshMs: number;
  readonly graceMs: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /** A liveness changed or a region was heard again: deadlines must be looked at again. */
  readonly rearm: () => void;
  /** The bus closed under us. */
  readonly closed: () => void;
  readonly report: (err: unknown) => void;
}

export class RemoteRegions {
  private readonly feeds = new Map<string, BucketFeed>();
  private stopped = false;

  constructor(private readonly o: RemoteOptions) {
    for (const region of o.regions) {
      const feed = new BucketFeed(o.bus, { region, keyTtlMs: o.keyTtlMs, selfHealing: true, retryMinMs: o.retryMinMs, retryMaxMs: o.retryMaxMs }, {
        started: (f) => o.view.nextGeneration(f.region),
        entry: (f, e) => this.entry(f, e, true),
        ended: () => undefined,
        closed: () => o.closed(),
        error: (err) => o.report(err),
      });
      this.feeds.set(region, feed);
    }
  }

  /** Open every feed; resolves when each made its first attempt (those that failed keep trying). */
  async start(): Promise<void> {
    await Promise.all([...this.feeds.values()].map((f) => f.start()));
  }

  stop(): void {
    this.stopped = true;
    for (const f of this.feeds.values()) f.stop();
  }

  /** Regions whose bucket this view has not heard within 1.5 beats, for diagnostics. */
  unheard(now: number): string[] {
    return [...this.feeds.values()].filter((f) => !this.heard(f, now)).map((f) => f.region);
  }

  /**
   * Extra time beyond its ttl for an overdue node (see module header): 0 for this node's own
   * region and for a region heard lately; otherwise the bucket is probed and the node gets the grace.
   */
  extraMs(s: NodeSlot, now: number): number {
    const feed = this.feeds.get(s.region);
    if (!feed || this.heard(feed, now)) return 0;
    if (!feed.probeInFlight && now - feed.lastProbeAt >= this.o.refreshMs / 2) {
      void feed.probe(keys.node(s.id)).then((e) => {
        if (this.stopped || e === undefined) return;
        if (e) this.entry(feed, e, false);
        this.o.rearm();
      });
    }
    return this.o.graceMs;
  }

  private heard(feed: BucketFeed, now: number): boolean {
    return feed.heardAt > 0 && now - feed.heardAt <= 1.5 * this.o.refreshMs;
  }

  /** An entry of a region's bucket, from its watch or from a probe. */
  private entry(feed: BucketFeed, e: KvEntry, fromWatch: boolean): void {
    const p = parseKey(e.key);
    if (!p || p.region !== feed.region) return;
    const snapshot = e.created < feed.startedAt;
    if (fromWatch && !snapshot && !feed.snapshotDone) {
      feed.snapshotDone = true;
      this.o.view.dropUnconfirmed(feed.region);
    }
    const ageMs = snapshot ? Math.max(0, Date.now() - e.created) : 0;
    if (p.kind === 'n') {
      this.o.view.nodeChanged(p, e.operation === 'PUT' ? decodeNode(e.value) : undefined, e.revision, ageMs);
      this.o.rearm();
    } else {
      this.o.view.recordChanged(e.key, p, e.operation === 'PUT' ? decodeRecord(e.value) : undefined, e.revision, ageMs);
    }
  }
}
