/**
 * One cockatiel circuit breaker per endpoint (consecutive or sampling mode, half-open probes).
 *
 * cockatiel owns the state machine; this file adds what picking needs and cockatiel does not
 * expose: whether an open breaker is due for its half-open probe (so the picker offers that
 * endpoint again, and cockatiel lets exactly one request through as the probe). cockatiel reads
 * `Date.now()` for breaker timing, so the open time here does too.
 */
import { CircuitState, ConsecutiveBreaker, SamplingBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import type { CircuitBreakerPolicy } from 'cockatiel';
import type { ResolvedPolicy } from './config.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * The caller gave up (client disconnected, its signal aborted) while the attempt ran: not the
 * endpoint's fault, so it must not count towards opening its breaker (a load generator closing
 * 32 connections at once would otherwise open the breaker of a healthy endpoint).
 */
export class CallerGoneError extends Error {
  override name = 'CallerGoneError';
  constructor(override readonly cause: unknown) {
    super('the caller gave up during the attempt');
  }
}

interface Entry {
  readonly policy: CircuitBreakerPolicy;
  openedAt: number;
}

export class EndpointBreakers {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly cfg: ResolvedPolicy['breaker'],
    /** Which results count as failures (thrown errors always do). */
    private readonly isFailure: (result: unknown) => boolean,
  ) {}

  /** The endpoint's breaker, created closed on first use. */
  get(key: string): CircuitBreakerPolicy {
    return this.entry(key).policy;
  }

  /** True when a request to `key` would be refused now (open and not yet due, or probing). */
  blocking(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    const s = e.policy.state;
    if (s === CircuitState.HalfOpen || s === CircuitState.Isolated) return true;
    return s === CircuitState.Open && Date.now() - e.openedAt < this.cfg.halfOpenAfterMs;
  }

  state(key: string): BreakerState {
    const s = this.entries.get(key)?.policy.state ?? CircuitState.Closed;
    return s === CircuitState.Closed ? 'closed' : s === CircuitState.HalfOpen ? 'half-open' : 'open';
  }

  retain(keys: ReadonlySet<string>): void {
    for (const [k, e] of this.entries) if (!keys.has(k) && e.policy.state === CircuitState.Closed) this.entries.delete(k);
  }

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (e) return e;
    const c = this.cfg;
    const breaker = c.mode === 'consecutive' ? new ConsecutiveBreaker(c.failures) : new SamplingBreaker({ threshold: c.threshold, duration: c.windowMs, minimumRps: c.minimumRps });
    const policy = circuitBreaker(handleWhen((err) => !(err instanceof CallerGoneError)).orWhenResult(this.isFailure), { halfOpenAfter: c.halfOpenAfterMs, breaker });
    const created: Entry = { policy, openedAt: 0 };
    policy.onBreak(() => (created.openedAt = Date.now()));
    this.entries.set(key, (e = created));
    return e;
  }
}
