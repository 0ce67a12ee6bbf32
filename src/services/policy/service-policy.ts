/**
 * `ServicePolicy`: every resilience policy of one service on one node, tied together around a
 * transport-agnostic `invoke`. The HTTP proxy (not built yet) will call it with an `attempt`
 * that forwards one request to one endpoint; tests call it with fakes and real HTTP servers.
 *
 * One request: bulkhead (service) → retry with full-jitter backoff, gated by the retry budget
 * (idempotent requests only) → pick an endpoint (region tiers in preference order, P2C inside a
 * tier, skipping ejected endpoints, open breakers, and endpoints already tried) → the endpoint's
 * breaker → per-attempt timeout → `attempt`. Outcomes feed outlier ejection.
 */
import { BulkheadRejectedError, ExponentialBackoff, TaskCancelledError, bulkhead, fullJitterGenerator, handleWhen, retry, timeout, TimeoutStrategy } from 'cockatiel';
import type { BulkheadPolicy, TimeoutPolicy } from 'cockatiel';
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import { EndpointBreakers } from './breakers.js';
import { RetryBudget } from './budget.js';
import type { ResolvedPolicy } from './config.js';
import { OutlierDetector } from './outlier.js';
import { pickP2C } from './picker.js';
import type { Random } from './picker.js';
import type { AttemptContext, PolicyEndpoint, ResponseLike, ServicePolicySnapshot, ServiceRequest } from './types.js';
import { isIdempotent } from './types.js';

export interface ServicePolicyOptions<E extends PolicyEndpoint> {
  readonly service: string;
  readonly policy: ResolvedPolicy;
  /** Current endpoints, most preferred region first (the registry's `endpoints()`). */
  readonly endpoints: () => readonly E[];
  /** Clock for the budget and ejection. Default `Date.now`. (Breakers follow cockatiel: Date.now.) */
  readonly now?: () => number;
  readonly random?: Random;
}

const isServerFailure = (r: unknown): boolean => typeof (r as ResponseLike | null)?.status === 'number' && (r as ResponseLike).status >= 500;

export class ServicePolicy<E extends PolicyEndpoint = PolicyEndpoint> {
  readonly service: string;
  readonly policy: ResolvedPolicy;
  private readonly budget: RetryBudget;
  private readonly outlier: OutlierDetector;
  private readonly breakers: EndpointBreakers;
  private readonly bulkhead: BulkheadPolicy;
  private readonly timeout: TimeoutPolicy;
  private readonly backoff: ExponentialBackoff<number>;
  private readonly random: Random;
  private readonly inFlight = new Map<string, number>();
  private attemptsSincePrune = 0;
  private readonly counters = { requests: 0, attempts: 0, retries: 0, noEndpoints: 0, overloaded: 0, timeouts: 0 };

  constructor(private readonly opts: ServicePolicyOptions<E>) {
    this.service = opts.service;
    this.policy = opts.policy;
    const now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.budget = new RetryBudget(opts.policy.retryBudget, now);
    this.outlier = new OutlierDetector(opts.policy.outlier, now);
    this.breakers = new EndpointBreakers(opts.policy.breaker, isServerFailure);
    this.bulkhead = bulkhead(opts.policy.bulkhead.maxConcurrent, opts.policy.bulkhead.queue);
    this.timeout = timeout(opts.policy.timeoutMs, TimeoutStrategy.Aggressive);
    const r = opts.policy.retries;
    this.backoff = new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: r.baseDelayMs, maxDelay: r.maxDelayMs });
  }

  /**
   * Send `request` through the policies. Resolves with the last response (a 5xx too, once
   * retries are over: the caller relays it); rejects with `SVC_NO_ENDPOINTS`, `SVC_OVERLOADED`,
   * `SVC_TIMEOUT`, or the last error `attempt` threw.
   */
  async invoke<R extends ResponseLike>(request: ServiceRequest, attempt: (endpoint: E, ctx: AttemptContext) => Promise<R>, signal?: AbortSignal): Promise<R> {
    this.counters.requests++;
    this.budget.recordRequest();
    const idempotent = isIdempotent(request);
    const retryable = new Set(this.policy.retries.on);
    const tried = new Set<string>();
    let made = 0;
    // Called once per failed attempt; short-circuits so budget is only spent on real retries.
    const mayRetry = (): boolean => idempotent && made <= this.policy.retries.max && this.budget.tryRetry();
    const errorFilter = (err: Error): boolean => !isMeridianError(err, ErrorCode.SvcNoEndpoints) && !(signal?.aborted ?? false) && mayRetry();
    const resultFilter = (res: unknown): boolean => retryable.has((res as R).status) && mayRetry();
    const retryPolicy = retry(handleWhen(errorFilter).orWhenResult(resultFilter), { maxAttempts: this.policy.retries.max, backoff: this.backoff });
    retryPolicy.onRetry(() => this.counters.retries++);
    try {
      return await this.bulkhead.execute(() =>
        retryPolicy.execute(async () => {
          made++;
          return await this.once(attempt, tried, made, signal);
        }, signal),
      );
    } catch (err) {
      if (err instanceof BulkheadRejectedError) {
        this.counters.overloaded++;
        throw new MeridianError(ErrorCode.SvcOverloaded, `service ${this.service}: ${this.policy.bulkhead.maxConcurrent} requests in flight on this node (bulkhead full)`, {
          cause: err,
          details: { service: this.service, maxConcurrent: this.policy.bulkhead.maxConcurrent, queue: this.policy.bulkhead.queue },
        });
      }
      throw err;
    }
  }

  snapshot(): ServicePolicySnapshot {
    const keys = new Set([...this.inFlight.keys(), ...this.opts.endpoints().map((e) => e.key)]);
    return {
      service: this.service,
      policy: this.policy,
      bulkhead: { maxConcurrent: this.policy.bulkhead.maxConcurrent, queue: this.policy.bulkhead.queue, available: this.bulkhead.executionSlots, queueAvailable: this.bulkhead.queueSlots },
      budget: this.budget.snapshot(),
      endpoints: [...keys].sort().map((key) => ({ key, inFlight: this.inFlight.get(key) ?? 0, breaker: this.breakers.state(key), ejection: this.outlier.snapshot(key) })),
      counters: { ...this.counters },
    };
  }

  /** One attempt: pick, then breaker → timeout → the transport. */
  private async once<R extends ResponseLike>(attempt: (endpoint: E, ctx: AttemptContext) => Promise<R>, tried: Set<string>, n: number, signal?: AbortSignal): Promise<R> {
    const all = this.opts.endpoints();
    const endpoint = this.pick(all, tried);
    tried.add(endpoint.key);
    this.counters.attempts++;
    this.inFlight.set(endpoint.key, (this.inFlight.get(endpoint.key) ?? 0) + 1);
    try {
      const res = await this.breakers.get(endpoint.key).execute(async () => {
        try {
          return await this.timeout.execute((_ctx, timeoutSignal) => attempt(endpoint, { signal: timeoutSignal, attempt: n }), signal);
        } catch (err) {
          if (!(err instanceof TaskCancelledError) || (signal?.aborted ?? false)) throw err;
          this.counters.timeouts++;
          throw new MeridianError(ErrorCode.SvcTimeout, `service ${this.service}: ${endpoint.key} did not answer within ${this.policy.timeoutMs} ms`, {
            cause: err,
            details: { service: this.service, endpoint: endpoint.key, timeoutMs: this.policy.timeoutMs },
          });
        }
      });
      if (isServerFailure(res)) this.outlier.onFailure(endpoint.key, all.length);
      else this.outlier.onSuccess(endpoint.key);
      return res;
    } catch (err) {
      if (!(signal?.aborted ?? false)) this.outlier.onFailure(endpoint.key, all.length);
      throw err;
    } finally {
      const left = (this.inFlight.get(endpoint.key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(endpoint.key, left);
      else this.inFlight.delete(endpoint.key);
      this.prune(all);
    }
  }

  /**
   * Tiers are runs of endpoints in the same region, in the given (preference) order. The first
   * tier with an eligible endpoint not yet tried wins, so a retry moves to another endpoint and,
   * when the local region has none left, to the next region. When every eligible endpoint was
   * tried, the best tier is used again.
   */
  private pick(all: readonly E[], tried: ReadonlySet<string>): E {
    const eligible = all.filter((e) => !this.outlier.isEjected(e.key) && !this.breakers.blocking(e.key));
    const tiers: E[][] = [];
    for (const e of eligible) {
      const last = tiers[tiers.length - 1];
      if (last && last[0]!.region === e.region) last.push(e);
      else tiers.push([e]);
    }
    const fresh = tiers.map((t) => t.filter((e) => !tried.has(e.key))).find((t) => t.length > 0);
    const tier = fresh ?? tiers[0];
    if (!tier) {
      this.counters.noEndpoints++;
      throw new MeridianError(ErrorCode.SvcNoEndpoints, `service ${this.service}: no healthy endpoint (${all.length} known, all ejected or with an open breaker)`, {
        details: { service: this.service, known: all.length },
      });
    }
    return pickP2C(tier, (k) => this.inFlight.get(k) ?? 0, this.random);
  }

  /** Now and then, forget the state of endpoints that left the registry. */
  private prune(all: readonly E[]): void {
    if (++this.attemptsSincePrune < 1024) return;
    this.attemptsSincePrune = 0;
    const keys = new Set(all.map((e) => e.key));
    this.outlier.retain(keys);
    this.breakers.retain(keys);
  }
}
