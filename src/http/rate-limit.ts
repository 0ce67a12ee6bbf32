/**
 * Token buckets by key (a client IP at the edge; a credential and address at a region node): each
 * key may burst `burst` requests, refilled at `ratePerSec`. Buckets are created lazily and
 * forgotten once full again (a full bucket is the same as none), so memory follows the number of
 * recently active keys, not every key ever seen.
 */

export interface RateLimitOptions {
  /** Tokens added per second and key. */
  readonly ratePerSec: number;
  /** Bucket size: the burst a key may send at once. */
  readonly burst: number;
}

/** Milliseconds since some epoch (Date.now in production, a fake in tests). */
export type Clock = () => number;

interface Bucket {
  tokens: number;
  at: number;
}

export type Admission = { readonly ok: true } | { readonly ok: false; readonly retryAfterS: number };

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  #lastSweep: number;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly clock: Clock = Date.now,
  ) {
    if (!(options.ratePerSec > 0 && options.burst >= 1)) throw new RangeError('rate limit needs ratePerSec > 0 and burst >= 1');
    this.#lastSweep = clock();
  }

  take(key: string): Admission {
    const now = this.clock();
    this.#sweep(now);
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.options.burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.options.burst, b.tokens + ((now - b.at) / 1000) * this.options.ratePerSec);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    // Retry-After is whole seconds (RFC 9110); round up so a client that obeys it gets through.
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / this.options.ratePerSec)) };
  }

  get ratePerSec(): number {
    return this.options.ratePerSec;
  }

  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    const refillMs = (this.options.burst / this.options.ratePerSec) * 1000;
    if (now - this.#lastSweep < Math.max(1000, refillMs)) return;
    this.#lastSweep = now;
    for (const [k, b] of this.#buckets) if (b.tokens + ((now - b.at) / 1000) * this.options.ratePerSec >= this.options.burst) this.#buckets.delete(k);
  }
}
