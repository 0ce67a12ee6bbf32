/**
 * Write-behind of this node's keys: changes are marked dirty and written at most `flushDelayMs`
 * later, all dirty keys of that moment together, each at its latest value. A key that changes
 * back and forth within the delay (a reconnect) costs nothing; a key already holding what it
 * should is not rewritten unless forced.
 *
 * At most one write per key is in flight (so a key's writes land in order) and at most
 * `maxInFlight` in all (a full re-send of 10 000 keys is a steady stream, not a burst). A failed
 * write keeps its key dirty and pauses the writer; the owner resumes it once the bucket answers.
 */
import type { LocalKey } from './local.js';
import { desired } from './local.js';

export interface WriterOptions {
  readonly flushDelayMs: number;
  readonly maxInFlight: number;
  /** Write `sessions` for the key, or delete it when null; resolves with the revision if known. */
  readonly write: (k: LocalKey, sessions: number | null) => Promise<number | undefined>;
  readonly failed: (err: unknown) => void;
  /** A key's write settled (it may now be forgettable). */
  readonly settled: (k: LocalKey) => void;
}

export class WriteBehind {
  private readonly dirty = new Set<LocalKey>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private paused = true;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly o: WriterOptions) {}

  get pending(): number {
    return this.dirty.size + this.inFlight;
  }

  mark(k: LocalKey, force = false): void {
    if (this.stopped) return;
    if (force) k.force = true;
    if (!k.dirty) {
      k.dirty = true;
      this.dirty.add(k);
    }
    this.schedule();
  }

  /** Stop writing (bucket unreachable); dirty keys wait for `resume()`. */
  pause(): void {
    this.paused = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  resume(): void {
    if (this.stopped) return;
    this.paused = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.pause();
    this.dirty.clear();
    this.notifyIdle();
  }

  /** Resolves when nothing is dirty or in flight (or the writer is paused or stopped). */
  idle(): Promise<void> {
    if (this.pending === 0 || this.paused || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves when no write is in flight (after `stop()`: when the last one has settled). */
  settled(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.timer || this.paused || this.stopped || this.dirty.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, this.o.flushDelayMs);
    this.timer.unref();
  }

  private drain(): void {
    for (const k of this.dirty) {
      if (this.paused || this.stopped || this.inFlight >= this.o.maxInFlight) return;
      // Written after the write in flight settles (it re-enters the drain).
      if (k.inFlight) continue;
      this.dirty.delete(k);
      k.dirty = false;
      const want = desired(k);
      const force = k.force;
      k.force = false;
      if (!force && want === k.written) {
        this.o.settled(k);
        continue;
      }
      // Nothing was ever written, nothing is wanted: no delete needed, even when forced.
      if (want === null && k.written === null && k.writtenRevision === 0) {
        this.o.settled(k);
        continue;
      }
      this.issue(k, want);
    }
    this.notifyIdle();
  }

  private issue(k: LocalKey, want: number | null): void {
    k.inFlight = true;
    this.inFlight++;
    this.o.write(k, want).then(
      (revision) => {
        k.written = want;
        if (revision !== undefined) k.writtenRevision = revision;
        k.writtenAt = Date.now();
        this.finish(k);
      },
      (err: unknown) => {
        this.failed(k, err);
      },
    );
  }

  private failed(k: LocalKey, err: unknown): void {
    if (!this.stopped) {
      k.force = true;
      if (!k.dirty) {
        k.dirty = true;
        this.dirty.add(k);
      }
      // Pause before the drain below can retry straight away.
      this.o.failed(err);
    }
    this.finish(k);
  }

  private finish(k: LocalKey): void {
    k.inFlight = false;
    this.inFlight--;
    this.o.settled(k);
    if (this.inFlight === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
    if (this.stopped) return;
    // The coalescing delay was already paid: keep draining without waiting again.
    if (!this.paused && this.dirty.size > 0) this.drain();
    else this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.pending !== 0 && !this.paused && !this.stopped) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
