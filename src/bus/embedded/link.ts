/**
 * One direction of a simulated WAN link: a FIFO of deliveries, each due at send time + latency.
 *
 * A delivery is never due before the one queued ahead of it, so lowering the latency while
 * messages are in flight cannot reorder them (a TCP gateway connection cannot either). One timer
 * per link, armed for the head only, keeps the cost independent of the number in flight.
 */
import { performance } from 'node:perf_hooks';

interface Delivery {
  readonly at: number;
  readonly run: () => void;
  readonly drop: (() => void) | undefined;
}

export class Link {
  private queue: Delivery[] = [];
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private draining = false;

  /** `onError` receives what a delivery threw, so one bad delivery cannot stall the link. */
  constructor(private readonly onError: (err: unknown) => void) {}

  get inFlight(): number {
    return this.queue.length;
  }

  /** Queue `run` to happen `delayMs` from now, but never before anything already queued. */
  push(delayMs: number, run: () => void, drop?: () => void): void {
    const at = Math.max(performance.now() + delayMs, this.lastAt);
    this.lastAt = at;
    this.queue.push({ at, run, drop });
    if (!this.draining && this.timer === undefined && this.immediate === undefined) this.arm();
  }

  /** Forget everything in flight, telling each delivery that it was dropped. */
  close(): void {
    clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const dropped = this.queue;
    this.queue = [];
    for (const d of dropped) this.guard(d.drop);
  }

  private arm(): void {
    const head = this.queue[0];
    if (!head) return;
    const wait = head.at - performance.now();
    // Same-region traffic (latency 0) is still asynchronous, like a round through the server.
    // Node timers fire up to ~1 ms after the whole milliseconds they are given, so the timer is
    // armed for the whole milliseconds only and the last fraction is waited out in event-loop
    // turns: a 50 ms link delivers after 50.0x ms, not 51–52 ms (that was most of the
    // cross-region latency budget above the link in bench/cross-region.ts).
    if (wait < 1) this.immediate = setImmediate(this.drain);
    else this.timer = setTimeout(this.drain, Math.floor(wait));
  }

  private readonly drain = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    this.draining = true;
    // Deliveries queued by the handlers below are due later than `now`: they wait for the next
    // round instead of starving the event loop.
    const now = performance.now();
    try {
      while (this.queue.length > 0 && this.queue[0]!.at <= now) {
        this.guard(this.queue.shift()!.run);
      }
    } finally {
      this.draining = false;
    }
    this.arm();
  };

  private guard(fn: (() => void) | undefined): void {
    try {
      fn?.();
    } catch (err) {
      this.onError(err);
    }
  }
}
