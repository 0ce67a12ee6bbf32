/**
 * The node's own bus, watched: up or down, from `bus.status()` (`disconnected`/`reconnecting`
 * mean down, `reconnected` up again).
 *
 * While it is down the node is not ready, refuses new WebSockets (server.ts) and answers HTTP
 * requests that need the bus 503 at once (routes/mod.ts). When it stays down for `graceMs` (two
 * heartbeat intervals: the time a client would take to give up on a silent connection) `onLost`
 * runs once for that outage (assemble.ts): the node sends its clients to another region
 * (drain.ts, `evacuate`). A blip shorter than that moves nobody.
 */
import type { ServerResponse } from 'node:http';
import type { Bus, BusStatus } from '../bus/types.js';
import { ErrorCode } from '../errors/mod.js';
import { sendError } from '../http/respond.js';

export interface BusWatchOptions {
  readonly graceMs: number;
  /** `Retry-After` (seconds) of the 503 answers while the bus is down. */
  readonly retryAfterS: number;
  /** Every status the bus reports (metrics). */
  readonly onStatus?: (type: BusStatus['type']) => void;
  /** The bus went down or came back. */
  readonly onChange: (up: boolean) => void;
  /** The bus has been down for `graceMs` (once per outage). */
  readonly onLost: () => void;
}

export class BusWatch {
  #up = true;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  /** Aborted when the bus goes down; a new one each time it comes back. */
  #outage = new AbortController();

  constructor(
    bus: Bus,
    readonly options: BusWatchOptions,
  ) {
    void (async () => {
      try {
        for await (const s of bus.status()) {
          if (this.#closed) return;
          options.onStatus?.(s.type);
          if (s.type === 'disconnected' || s.type === 'reconnecting') this.#down();
          else if (s.type === 'reconnected') this.#back();
          else if (s.type === 'closed') return;
        }
      } catch {
        // A status stream that ends with an error leaves the last state; the bus reports closure.
      }
    })();
  }

  get up(): boolean {
    return this.#up;
  }

  #down(): void {
    if (!this.#up) return;
    this.#up = false;
    this.options.onChange(false);
    this.#outage.abort();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#up && !this.#closed) this.options.onLost();
    }, this.options.graceMs);
    this.#timer.unref();
  }

  #back(): void {
    if (this.#up) return;
    this.#up = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#outage = new AbortController();
    this.options.onChange(true);
  }

  /** The `Retry-After` header of answers while the bus is down. */
  get retryAfter(): Record<string, string> {
    return { 'retry-after': String(this.options.retryAfterS) };
  }

  /** Answer 503 UNAVAILABLE with Retry-After (unless something was answered already). */
  unavailable(res: ServerResponse): void {
    if (!res.headersSent) sendError(res, 503, ErrorCode.Unavailable, 'this node lost its bus: retry later or use another region', undefined, this.retryAfter);
  }

  /** Run a handler that needs the bus; should the bus go down meanwhile, answer 503 now instead of hanging. */
  async whileUp<T>(res: ServerResponse, work: () => Promise<T>): Promise<T> {
    const signal = this.#outage.signal;
    const lost = (): void => this.unavailable(res);
    signal.addEventListener('abort', lost, { once: true });
    try {
      return await work();
    } finally {
      signal.removeEventListener('abort', lost);
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
