/**
 * When the outbox may write the next send. Two limits:
 * - at most `maxInFlight` sends awaiting their answer (the server's default burst is 400 and a
 *   flood of refused frames ends in POLICY_VIOLATION, so a client never fires thousands at once);
 * - after RATE_LIMITED, writes are paced: one per 1.25 × `retryAfterMs` (the server's time per
 *   token, the largest seen), for `stickyMs` after the last limit. Resending everything after the
 *   pause would only be limited again, and each refused frame costs the connection abuse credit.
 * Pure: the client asks and schedules.
 */

export class SendPacer {
  private paceMs = 0;
  private pacedUntil = 0;
  private nextAt = 0;

  constructor(
    readonly maxInFlight = 100,
    readonly stickyMs = 2000,
  ) {}

  /** 0: write now; > 0: wait that many ms; -1: wait for an answer (too many in flight). */
  admit(now: number, inFlight: number): number {
    if (inFlight >= this.maxInFlight) return -1;
    if (now >= this.pacedUntil) this.paceMs = 0;
    return now >= this.nextAt ? 0 : this.nextAt - now;
  }

  paced(now: number): boolean {
    return now < this.pacedUntil;
  }

  /** A send was written at `now`. */
  wrote(now: number): void {
    if (now < this.pacedUntil) this.nextAt = now + this.paceMs;
  }

  /** The server answered RATE_LIMITED. */
  limited(now: number, retryAfterMs: number | undefined): void {
    const wait = Math.max(1, retryAfterMs ?? 250);
    // A little slower than the server refills: other frames (heartbeats, cursors) take tokens too.
    this.paceMs = Math.max(this.paceMs, Math.ceil(wait * 1.25));
    this.nextAt = Math.max(this.nextAt, now + wait);
    this.pacedUntil = now + this.stickyMs;
  }

  /** A new connection: a fresh bucket on the server. */
  reset(): void {
    this.paceMs = 0;
    this.pacedUntil = 0;
    this.nextAt = 0;
  }
}
