/**
 * Retry budget: retries may add at most `ratio` extra load over a sliding window, plus a small
 * floor per second so a quiet service can still retry a blip.
 *
 * Per-request retry limits alone multiply load during an outage (3 attempts each = 3× traffic
 * onto a struggling backend); a budget bounds the whole service's retries instead. Finagle's
 * RetryBudget model (deposit per request, withdraw per retry, minimum per second), with Envoy's
 * 20 % and minimum of 3. The window is kept in ten buckets so old traffic ages out smoothly.
 */

export interface RetryBudgetConfig {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
}

export interface RetryBudgetSnapshot {
  /** First attempts in the current window, and retries taken in it. */
  readonly requests: number;
  readonly retries: number;
  /** Retries the window allows in total right now. */
  readonly allowed: number;
  /** Retries refused by the budget since start. */
  readonly denied: number;
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
}

const BUCKETS = 10;

export class RetryBudget {
  private readonly requests = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  private readonly bucketMs: number;
  /** Index of the newest bucket in absolute bucket numbers (time / bucketMs). */
  private head = 0;
  private denied = 0;

  constructor(
    private readonly cfg: RetryBudgetConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.bucketMs = cfg.windowMs / BUCKETS;
    this.head = Math.floor(now() / this.bucketMs);
  }

  /** Count a first attempt (a new request, not a retry). */
  recordRequest(): void {
    this.requests[this.advance()]! += 1;
  }

  /** Take one retry from the budget; false (and counted as denied) when it is spent. */
  tryRetry(): boolean {
    const i = this.advance();
    if (this.sum(this.retries) + 1 > this.allowed()) {
      this.denied++;
      return false;
    }
    this.retries[i]! += 1;
    return true;
  }

  snapshot(): RetryBudgetSnapshot {
    this.advance();
    return {
      requests: this.sum(this.requests),
      retries: this.sum(this.retries),
      allowed: this.allowed(),
      denied: this.denied,
      ...this.cfg,
    };
  }

  private allowed(): number {
    return Math.floor(this.cfg.minPerSecond * (this.cfg.windowMs / 1000) + this.cfg.ratio * this.sum(this.requests));
  }

  private sum(a: readonly number[]): number {
    return a.reduce((x, y) => x + y, 0);
  }

  /** Rotate out buckets older than the window; returns the current bucket's slot. */
  private advance(): number {
    const abs = Math.floor(this.now() / this.bucketMs);
    for (let b = this.head + 1; b <= abs && b <= this.head + BUCKETS; b++) {
      this.requests[b % BUCKETS] = 0;
      this.retries[b % BUCKETS] = 0;
    }
    if (abs > this.head) this.head = abs;
    return this.head % BUCKETS;
  }
}
