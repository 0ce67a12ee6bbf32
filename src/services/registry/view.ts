/**
 * What one region's workers bucket holds, as this node saw it: a `BucketView` per bucket, fed by
 * that bucket's KV watch (and by this node's own writes, for read-your-writes), so reads never
 * leave the process. merge.ts combines them into the node's view of the fleet.
 *
 * Liveness is judged from the time the KV stored a worker's last change (`KvEntry.created`, the
 * bucket's clock), never from times written by workers, whose clocks nobody controls. The age is
 * taken on the wall clock and carried onto the view's clock (`now`, injectable), so a region
 * node that just started sees a worker that died an hour ago as an hour old, not as fresh. Clock
 * skew between region nodes and KV servers (NTP: milliseconds) is small against the stale time
 * (seconds); a view that stops receiving changes altogether is handled by panic mode
 * (registry.ts), not by declaring every worker dead at the stale time.
 */
import type { KvEntry } from '../../bus/types.js';
import type { Tombstone, WorkerRecord } from './types.js';

/** One bucket's current entry for a worker: its record, or a deregistration (`record: null`). */
export interface Held {
  /** The worker id (the key). */
  readonly id: string;
  /** The region whose bucket holds it. */
  readonly region: string;
  readonly record: WorkerRecord | null;
  readonly revision: number;
  /** When the KV stored this revision (wall clock of the bucket's servers): orders entries across buckets. */
  readonly created: number;
  /** The same moment on the view's clock: what ages are measured from. */
  readonly seenAt: number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function encodeRecord(value: WorkerRecord | Tombstone): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decode a stored value; anything unreadable is treated as absent (never crashes the feed). */
export function decodeRecord(bytes: Uint8Array): WorkerRecord | Tombstone | null {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as Partial<WorkerRecord | Tombstone>;
    if (v.v === 1 && (v.kind === 'worker' || v.kind === 'evicted' || v.kind === 'deregistered') && typeof v.id === 'string') return v as WorkerRecord | Tombstone;
  } catch {
    // fall through
  }
  return null;
}

type Change = Pick<KvEntry, 'key' | 'value' | 'revision' | 'operation' | 'created'>;

/**
 * A stored entry as a `Held`, or undefined when it holds nothing (deleted, evicted, unreadable).
 * `now` is the view's clock at the time of reading.
 */
export function toHeld(region: string, entry: Change, now: number): Held | undefined {
  const value = entry.operation === 'PUT' ? decodeRecord(entry.value) : null;
  if (!value || value.kind === 'evicted') return undefined;
  const seenAt = now - Math.max(0, Date.now() - entry.created);
  return { id: entry.key, region, record: value.kind === 'worker' ? value : null, revision: entry.revision, created: entry.created, seenAt };
}

export class BucketView {
  private readonly slots = new Map<string, Held>();
  /** Highest revision seen per key, deletes included, so late or replayed changes are ignored. */
  private readonly revisions = new Map<string, number>();

  /** Bumped on every change to the slots, so readers can cache what they derive from them. */
  version = 0;

  constructor(
    readonly region: string,
    private readonly now: () => number,
  ) {}

  /** Apply a change from the watch (or a write of our own, for read-your-writes). */
  apply(entry: Change): void {
    if ((this.revisions.get(entry.key) ?? 0) >= entry.revision) return;
    this.revisions.set(entry.key, entry.revision);
    this.version++;
    const held = toHeld(this.region, entry, this.now());
    if (held) this.slots.set(entry.key, held);
    else this.slots.delete(entry.key);
  }

  /** Drop an entry now (a re-read found the key gone); a later change of it still applies. */
  forget(id: string): void {
    if (this.slots.delete(id)) this.version++;
  }

  get(id: string): Held | undefined {
    return this.slots.get(id);
  }

  entries(): IterableIterator<Held> {
    return this.slots.values();
  }

  ids(): IterableIterator<string> {
    return this.slots.keys();
  }
}
