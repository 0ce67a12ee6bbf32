/**
 * One direction of one proxied TCP connection, delayed and in order (used by `TcpProxy`).
 *
 * Chunks are queued with a due time and released by a single timer chain, so a chunk never
 * overtakes an earlier one, even when the latency drops mid-stream (a timer per chunk would let
 * it). The end of the stream (FIN) travels through the same queue.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** One direction of one proxied connection: ordered, delayed delivery into `dest`. */
export class DelayedPipe {
  // `null` marks the end of the stream (the source sent FIN): it is delivered in order too.
  private queue: Array<{ due: number; chunk: Buffer | null }> = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private waitingForDrain = false;

  constructor(
    private readonly src: Socket,
    private readonly dest: Socket,
    private readonly latencyMs: () => number,
  ) {}

  push(chunk: Buffer | null): void {
    if (this.stopped) return;
    const ms = this.latencyMs();
    if (ms <= 0 && this.queue.length === 0) {
      this.deliver(chunk);
      return;
    }
    this.queue.push({ due: performance.now() + ms, chunk });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.stopped) return;
    const head = this.queue[0];
    if (head === undefined) return;
    // Timers have millisecond granularity and may fire a hair early: round up, and `flush`
    // re-arms if the head is still not due, so no chunk is ever delivered before its time.
    const wait = Math.max(0, Math.ceil(head.due - performance.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const now = performance.now();
    let head = this.queue[0];
    while (head !== undefined && head.due <= now && !this.stopped) {
      this.queue.shift();
      this.deliver(head.chunk);
      head = this.queue[0];
    }
    this.schedule();
  }

  private deliver(chunk: Buffer | null): void {
    if (this.dest.destroyed) return;
    if (chunk === null) {
      this.dest.end();
      return;
    }
    // Backpressure: stop reading the source while the destination's buffer is full.
    if (!this.dest.write(chunk) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.src.pause();
      this.dest.once('drain', () => {
        this.waitingForDrain = false;
        this.src.resume();
      });
    }
  }
}
