/**
 * Per-service resilience configuration: a plain object (from meridian.yaml or code) with safe
 * defaults for everything left out. Defaults follow Envoy where Envoy has a number (ANCHORS.md),
 * so operators meet familiar behaviour; docs/services.md gives the reason for each.
 */
import { ErrorCode, MeridianError } from '../../errors/mod.js';

export type BreakerConfig =
  | { readonly mode: 'consecutive'; readonly failures?: number; readonly halfOpenAfterMs?: number }
  | { readonly mode: 'sampling'; readonly threshold?: number; readonly windowMs?: number; readonly minimumRps?: number; readonly halfOpenAfterMs?: number };

export interface PolicyConfig {
  /** Per-attempt timeout. */
  readonly timeoutMs?: number;
  readonly retries?: {
    /** Retries after the first attempt (idempotent requests only). */
    readonly max?: number;
    /** Full-jitter exponential backoff: attempt n waits uniformly in [0, min(maxDelayMs, baseDelayMs·2^(n-1))). */
    readonly baseDelayMs?: number;
    readonly maxDelayMs?: number;
    /** Response statuses worth another attempt (thrown errors and timeouts always are). */
    readonly on?: readonly number[];
  };
  readonly retryBudget?: {
    /** Retries allowed as a share of requests over the window. */
    readonly ratio?: number;
    /** Retries always allowed per second, however little traffic there is. */
    readonly minPerSecond?: number;
    readonly windowMs?: number;
  };
  readonly breaker?: BreakerConfig;
  readonly outlier?: {
    readonly consecutiveFailures?: number;
    readonly baseEjectionMs?: number;
    readonly maxEjectionMs?: number;
    /** Largest share of a service's endpoints ejected at once (at least one may always be). */
    readonly maxEjectedShare?: number;
  };
  readonly bulkhead?: {
    /** Concurrent requests per service on this node. */
    readonly maxConcurrent?: number;
    /** Requests waiting for a slot; beyond that they are refused at once. */
    readonly queue?: number;
  };
}

export interface ResolvedPolicy {
  readonly timeoutMs: number;
  readonly retries: { readonly max: number; readonly baseDelayMs: number; readonly maxDelayMs: number; readonly on: readonly number[] };
  readonly retryBudget: { readonly ratio: number; readonly minPerSecond: number; readonly windowMs: number };
  readonly breaker:
    | { readonly mode: 'consecutive'; readonly failures: number; readonly halfOpenAfterMs: number }
    | { readonly mode: 'sampling'; readonly threshold: number; readonly windowMs: number; readonly minimumRps: number; readonly halfOpenAfterMs: number };
  readonly outlier: { readonly consecutiveFailures: number; readonly baseEjectionMs: number; readonly maxEjectionMs: number; readonly maxEjectedShare: number };
  readonly bulkhead: { readonly maxConcurrent: number; readonly queue: number };
}

export const DEFAULT_POLICY: ResolvedPolicy = {
  timeoutMs: 15_000,
  retries: { max: 2, baseDelayMs: 25, maxDelayMs: 250, on: [502, 503, 504] },
  retryBudget: { ratio: 0.2, minPerSecond: 3, windowMs: 10_000 },
  breaker: { mode: 'consecutive', failures: 5, halfOpenAfterMs: 5_000 },
  outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectedShare: 0.1 },
  bulkhead: { maxConcurrent: 1024, queue: 0 },
};

/** Fill in defaults and check every value; all problems are reported at once. */
export function resolvePolicy(cfg: PolicyConfig = {}, service = '(default)'): ResolvedPolicy {
  const d = DEFAULT_POLICY;
  const b = cfg.breaker;
  const breaker: ResolvedPolicy['breaker'] =
    b?.mode === 'sampling'
      ? { mode: 'sampling', threshold: b.threshold ?? 0.5, windowMs: b.windowMs ?? 10_000, minimumRps: b.minimumRps ?? 5, halfOpenAfterMs: b.halfOpenAfterMs ?? d.breaker.halfOpenAfterMs }
      : { mode: 'consecutive', failures: b?.failures ?? 5, halfOpenAfterMs: b?.halfOpenAfterMs ?? d.breaker.halfOpenAfterMs };
  const p: ResolvedPolicy = {
    timeoutMs: cfg.timeoutMs ?? d.timeoutMs,
    retries: { ...d.retries, ...cfg.retries },
    retryBudget: { ...d.retryBudget, ...cfg.retryBudget },
    breaker,
    outlier: { ...d.outlier, ...cfg.outlier },
    bulkhead: { ...d.bulkhead, ...cfg.bulkhead },
  };
  const problems: string[] = [];
  const check = (ok: boolean, what: string): void => void (ok || problems.push(what));
  const int = (v: number, min: number): boolean => Number.isInteger(v) && v >= min;
  const pos = (v: number): boolean => Number.isFinite(v) && v > 0;
  check(pos(p.timeoutMs), 'timeoutMs must be > 0');
  check(int(p.retries.max, 0), 'retries.max must be an integer >= 0');
  check(Number.isFinite(p.retries.baseDelayMs) && p.retries.baseDelayMs >= 0, 'retries.baseDelayMs must be >= 0');
  check(p.retries.maxDelayMs >= p.retries.baseDelayMs, 'retries.maxDelayMs must be >= retries.baseDelayMs');
  check(p.retries.on.every((s) => int(s, 100) && s <= 599), 'retries.on must list HTTP statuses');
  check(p.retryBudget.ratio >= 0 && p.retryBudget.ratio <= 1, 'retryBudget.ratio must be within [0, 1]');
  check(p.retryBudget.minPerSecond >= 0, 'retryBudget.minPerSecond must be >= 0');
  check(pos(p.retryBudget.windowMs), 'retryBudget.windowMs must be > 0');
  check(pos(p.breaker.halfOpenAfterMs), 'breaker.halfOpenAfterMs must be > 0');
  if (p.breaker.mode === 'consecutive') check(int(p.breaker.failures, 1), 'breaker.failures must be an integer >= 1');
  else {
    check(p.breaker.threshold > 0 && p.breaker.threshold <= 1, 'breaker.threshold must be within (0, 1]');
    check(pos(p.breaker.windowMs), 'breaker.windowMs must be > 0');
    check(p.breaker.minimumRps >= 0, 'breaker.minimumRps must be >= 0');
  }
  check(int(p.outlier.consecutiveFailures, 1), 'outlier.consecutiveFailures must be an integer >= 1');
  check(pos(p.outlier.baseEjectionMs), 'outlier.baseEjectionMs must be > 0');
  check(p.outlier.maxEjectionMs >= p.outlier.baseEjectionMs, 'outlier.maxEjectionMs must be >= outlier.baseEjectionMs');
  check(p.outlier.maxEjectedShare >= 0 && p.outlier.maxEjectedShare <= 1, 'outlier.maxEjectedShare must be within [0, 1]');
  check(int(p.bulkhead.maxConcurrent, 1), 'bulkhead.maxConcurrent must be an integer >= 1');
  check(int(p.bulkhead.queue, 0), 'bulkhead.queue must be an integer >= 0');
  if (problems.length > 0) {
    throw new MeridianError(ErrorCode.SvcInvalidPolicy, `invalid policy for service ${service}: ${problems.join('; ')}`, { details: { service, problems } });
  }
  return p;
}
