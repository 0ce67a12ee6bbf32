/**
 * One region's local view of the global worker registry, fed by a KV watch so reads never leave
 * the process.
 *
 * Liveness is judged from the time the KV stored a worker's last change (`KvEntry.created`, the
 * bucket's clock), never from times written by workers, whose clocks nobody controls. The age is
 * taken on the wall clock and carried onto the view's clock (`now`, injectable), so a region
 * node that just started sees a worker that died an hour ago as an hour old, not as fresh. Clock
 * skew between region nodes and KV servers (NTP: milliseconds) is small against the stale time
 * (seconds); a region that stops receiving changes altogether is handled by panic mode
 * (registry.ts), not by declaring every worker dead.
 */
import type { KvEntry } from '../../bus/types.js';
import type { Tombstone, WorkerHealth, WorkerRecord, WorkerView } from './types.js';

interface Slot {
  record: WorkerRecord;
  revision: number;
  /** When the KV stored this revision, on the view's clock. */
  seenAt: number;
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
    if (v.v === 1 && (v.kind === 'worker' || v.kind === 'evicted') && typeof v.id === 'string') return v as WorkerRecord | Tombstone;
  } catch {
    // fall through
  }
  return null;
}

export class RegistryView {
  private readonly slots = new Map<string, Slot>();
  /** Highest revision seen per key, deletes included, so late or replayed changes are ignored. */
  private readonly revisions = new Map<string, number>();

  /** Bumped on every change to the slots, so readers can cache what they derive from them. */
  version = 0;

  constructor(private readonly now: () => number) {}

  /** Apply a change from the watch (or a write of our own, for read-your-writes). */
  apply(entry: Pick<KvEntry, 'key' | 'value' | 'revision' | 'operation' | 'created'>): void {
    if ((this.revisions.get(entry.key) ?? 0) >= entry.revision) return;
    this.revisions.set(entry.key, entry.revision);
    this.version++;
    const value = entry.operation === 'PUT' ? decodeRecord(entry.value) : null;
    if (!value || value.kind === 'evicted') {
      this.slots.delete(entry.key);
      return;
    }
    const now = this.now();
    const seenAt = now - Math.max(0, Date.now() - entry.created);
    this.slots.set(entry.key, { record: value, revision: entry.revision, seenAt });
  }

  /** Drop a worker now (our own delete); the watch's DEL follows and is ignored. */
  forget(id: string): void {
    this.version++;
    this.slots.delete(id);
  }

  get(id: string): WorkerView | undefined {
    const s = this.slots.get(id);
    return s && this.toView(s, this.now());
  }

  all(): WorkerView[] {
    const now = this.now();
    return [...this.slots.values()].map((s) => this.toView(s, now));
  }

  get size(): number {
    return this.slots.size;
  }

  private toView(s: Slot, now: number): WorkerView {
    const ageMs = Math.max(0, now - s.seenAt);
    const health: WorkerHealth = ageMs > s.record.staleAfterMs ? 'stale' : 'healthy';
    return { record: s.record, revision: s.revision, health, ageMs };
  }
}
