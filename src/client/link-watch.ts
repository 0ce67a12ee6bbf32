/**
 * Watching the current link's round trip, to re-elect when it degrades. The protocol heartbeat
 * runs every `heartbeatMs` (25 s by default): far too rarely to see a link go bad within
 * seconds, so while an election is configured the client also writes a `heartbeat` of its own
 * every `linkSampleMs` and times its answer.
 *
 * The baseline is the median of the first `baselineSamples` samples of a connection. The link
 * is degraded when `degradeSamples` samples in a row are both above `degradeFactor` × baseline
 * and above baseline + `degradeExtraMs` (the factor alone would flag 1 ms → 4 ms on loopback,
 * the margin alone 200 → 260 ms on a far link). A sample not answered by the time the next is
 * due counts as one as long as the wait so far.
 */
import type { ClientFrame } from '../protocol/mod.js';
import type { Clock } from './clock.js';
import type { ElectionOptions } from './election.js';
import { median } from './election.js';

export interface LinkTarget {
  readonly isOpen: boolean;
  write(frame: ClientFrame): boolean;
}

type Thresholds = Pick<ElectionOptions, 'linkSampleMs' | 'degradeFactor' | 'degradeExtraMs' | 'degradeSamples' | 'baselineSamples'>;

export class LinkWatch {
  private timer: unknown;
  private pending: { id: string; sentAt: number } | undefined;
  private readonly first: number[] = [];
  private bad = 0;
  private generation = 0;
  baselineMs: number | undefined;
  lastMs: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly nextId: (prefix: string) => string,
    private readonly o: Thresholds,
    private readonly degraded: (info: { baselineMs: number; lastMs: number }) => void,
  ) {}

  start(conn: LinkTarget): void {
    this.stop();
    this.first.length = 0;
    this.bad = 0;
    this.baselineMs = undefined;
    this.lastMs = undefined;
    if (this.o.linkSampleMs <= 0) return;
    const gen = ++this.generation;
    const tick = (): void => {
      if (gen !== this.generation || !conn.isOpen) return;
      const now = this.clock.now();
      if (this.pending) this.sample(now - this.pending.sentAt);
      if (gen !== this.generation) return; // the sample's handler restarted or stopped the watch
      this.pending = { id: this.nextId('l'), sentAt: now };
      conn.write({ type: 'heartbeat', id: this.pending.id, ts: now });
      this.timer = this.clock.setTimeout(tick, this.o.linkSampleMs);
    };
    this.timer = this.clock.setTimeout(tick, Math.min(this.o.linkSampleMs, 250));
  }

  /** A `heartbeat` answer; true when it was one of this watch's samples. */
  pong(ref: string | undefined): boolean {
    if (ref === undefined || this.pending === undefined || ref !== this.pending.id) return false;
    const rtt = this.clock.now() - this.pending.sentAt;
    this.pending = undefined;
    this.sample(rtt);
    return true;
  }

  /** Forget the degradation run (after a re-election decided to stay). */
  settle(): void {
    this.bad = 0;
  }

  stop(): void {
    this.generation += 1;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }

  private sample(ms: number): void {
    this.lastMs = ms;
    if (this.baselineMs === undefined) {
      this.first.push(ms);
      if (this.first.length >= Math.max(1, this.o.baselineSamples)) this.baselineMs = median(this.first);
      return;
    }
    const b = this.baselineMs;
    if (ms > b * this.o.degradeFactor && ms > b + this.o.degradeExtraMs) this.bad += 1;
    else this.bad = 0;
    if (this.bad >= Math.max(1, this.o.degradeSamples)) {
      this.bad = 0;
      this.degraded({ baselineMs: b, lastMs: ms });
    }
  }
}
