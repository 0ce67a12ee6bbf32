/**
 * A token bucket per connection, kept as two numbers (no timers): refilled lazily on each take,
 * so 10,000 idle connections cost nothing. The node uses one for frames (RATE_LIMITED with
 * `retryAfterMs`) and one for abuse (invalid or rate-limited frames; empty means 4753).
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    now: number = performance.now(),
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  #refill(now: number): void {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.ratePerSec) / 1000);
      this.#at = now;
    }
  }

  /** Take one token: 0 when granted, else the milliseconds until one is available. */
  take(now: number = performance.now()): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.ratePerSec));
  }
}
