/**
 * Reconnect delays: exponential backoff with full jitter (AWS's "full jitter": a uniform draw
 * between 0 and the capped exponential), so a region's clients that lost it together do not
 * come back together. The attempt count resets once a connection has stayed up long enough,
 * so one flap after hours of uptime is retried almost at once, while a crash loop backs off.
 */

export interface BackoffOptions {
  /** Cap of the first delay (ms). Default 250. */
  initialMs: number;
  /** Largest cap (ms). Default 30 000. */
  maxMs: number;
  /** A connection up at least this long resets the attempt count (ms). Default 60 000. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 250, maxMs: 30_000, resetAfterMs: 60_000 });

export class Backoff {
  private attempt = 0;
  private upSince: number | undefined;
  readonly options: BackoffOptions;

  constructor(
    options: Partial<BackoffOptions> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.options = { ...DEFAULT_BACKOFF, ...options };
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The cap for the current attempt: initialMs doubling up to maxMs. */
  ceiling(): number {
    const { initialMs, maxMs } = this.options;
    // 2^attempt overflows to Infinity eventually; min() keeps the cap finite.
    return Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt, 52));
  }

  /** The delay before the next attempt (uniform in [0, ceiling)), counting the attempt. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempt += 1;
    return delay;
  }

  /** A connection came up at `now`. */
  up(now: number): void {
    this.upSince = now;
  }

  /** The connection went down at `now`: reset the attempts if it had stayed up long enough. */
  down(now: number): void {
    if (this.upSince !== undefined && now - this.upSince >= this.options.resetAfterMs) this.attempt = 0;
    this.upSince = undefined;
  }

  reset(): void {
    this.attempt = 0;
  }
}
