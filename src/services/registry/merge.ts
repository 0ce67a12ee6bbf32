/**
 * A node's view of the whole fleet: every region's workers bucket (one `BucketView` each) merged.
 *
 * A worker is counted once, from its freshest entry in any bucket (latest `created`): a worker
 * that moved its heartbeats to another region's node is held by both buckets for a while, and
 * the one it heartbeats into wins. A deregistration counts as an entry too, so a worker that left
 * through one region's node is gone everywhere even while older records of it linger in other
 * buckets until their own region evicts them. A freshest entry older than the record's eviction
 * time is dropped from this view (nobody here may evict it when its bucket is another region's;
 * its region tombstones it when it can).
 */
import type { Held } from './view.js';
import { BucketView } from './view.js';
import type { WorkerHealth, WorkerView } from './types.js';

/** Does `a` decide over `b`: stored later; in the same millisecond a deregistration, then by region name. */
function fresher(a: Held, b: Held): boolean {
  if (a.created !== b.created) return a.created > b.created;
  // A tie is ambiguous: the deregistration wins, so a departed worker never lingers; a live one
  // is told it is unknown at its next heartbeat and registers again.
  if ((a.record === null) !== (b.record === null)) return a.record === null;
  return a.region < b.region;
}

/** The entry that decides a worker, or undefined when it is gone (deregistered, or silent past eviction). */
export function pick(candidates: Iterable<Held>, now: number): (Held & { record: NonNullable<Held['record']> }) | undefined {
  let best: Held | undefined;
  for (const h of candidates) if (!best || fresher(h, best)) best = h;
  if (!best?.record || now - best.seenAt > best.record.evictAfterMs) return undefined;
  return best as Held & { record: NonNullable<Held['record']> };
}

export class RegistryView {
  private readonly buckets = new Map<string, BucketView>();

  constructor(private readonly now: () => number) {}

  /** The view of `region`'s bucket (created empty on first use). */
  bucket(region: string): BucketView {
    let b = this.buckets.get(region);
    if (!b) this.buckets.set(region, (b = new BucketView(region, this.now)));
    return b;
  }

  /** Changes with every change of any bucket's view. */
  get version(): number {
    let v = 0;
    for (const b of this.buckets.values()) v += b.version;
    return v;
  }

  /** What every bucket holds for `id`. */
  candidates(id: string): Held[] {
    const out: Held[] = [];
    for (const b of this.buckets.values()) {
      const h = b.get(id);
      if (h) out.push(h);
    }
    return out;
  }

  /**
   * Forget what can no longer decide anything, so the view does not grow with every worker that
   * ever lived: records of other regions' buckets past their eviction time (their region
   * tombstones them when it can; a later change of them still applies), and deregistrations
   * older than `evictAfterMs` (every record they hide is older still, so past eviction too). The
   * own region's records stay: this node evicts them from the bucket.
   */
  prune(ownRegion: string, evictAfterMs: number): void {
    const now = this.now();
    for (const b of this.buckets.values()) {
      for (const h of [...b.entries()]) {
        const limit = h.record ? h.record.evictAfterMs : evictAfterMs;
        if ((h.record === null || b.region !== ownRegion) && now - h.seenAt > limit) b.forget(h.id);
      }
    }
  }

  get(id: string): WorkerView | undefined {
    const now = this.now();
    const h = pick(this.candidates(id), now);
    return h && toView(h, now);
  }

  all(): WorkerView[] {
    const now = this.now();
    const out: WorkerView[] = [];
    const seen = new Set<string>();
    for (const b of this.buckets.values()) {
      for (const id of b.ids()) {
        if (seen.has(id)) continue;
        seen.add(id);
        const h = pick(this.candidates(id), now);
        if (h) out.push(toView(h, now));
      }
    }
    return out;
  }
}

function toView(h: Held & { record: NonNullable<Held['record']> }, now: number): WorkerView {
  const ageMs = Math.max(0, now - h.seenAt);
  const health: WorkerHealth = ageMs > h.record.staleAfterMs ? 'stale' : 'healthy';
  return { record: h.record, revision: h.revision, health, ageMs, heldIn: h.region };
}
