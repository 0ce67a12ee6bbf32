/**
 * `ServicePolicy`: every resilience policy of one service on one node, tied together around a
 * transport-agnostic `invoke`. The HTTP proxy (http/proxy.ts) calls it with an `attempt`
 * that forwards one request to one endpoint; tests call it with fakes and real HTTP servers.
 *
 * One request: bulkhead (service) → retry with full-jitter backoff, gated by the retry budget
 * (idempotent requests only) → pick an endpoint (region tiers in preference order, P2C inside a
 * tier, skipping ejected endpoints, open breakers, and endpoints already tried) → the endpoint's
 * breaker → per-attempt timeout → `attempt`. Outcomes feed outlier ejection.
 *
 * cockatiel runs the breakers (the state machine with half-open probes). Retry, backoff, timeout
 * and bulkhead are a few lines each here: this is on every proxied request, and cockatiel's
 * layered policies cost about 25 µs a call against under 10 µs for this loop.
 */
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import { Cancel } from './abort.js';
import type { AbortLike } from './abort.js';
import { CallerGoneError, EndpointBreakers } from './breakers.js';
import { RetryBudget } from './budget.js';
import type { ResolvedPolicy } from './config.js';
import { OutlierDetector } from './outlier.js';
import { pickP2C } from './picker.js';
import type { Random } from './picker.js';
import type { AttemptContext, PolicyEndpoint, ResponseLike, ServicePolicySnapshot, ServiceRequest } from './types.js';
import { isIdempotent, isUndelivered } from './types.js';

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
  private readonly retryOn: ReadonlySet<number>;
  /** Bulkhead: requests running, and those waiting for a slot (FIFO). */
  private active = 0;
  private readonly waiting: Array<() => void> = [];
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
    this.retryOn = new Set(opts.policy.retries.on);
  }

  /**
   * Send `request` through the policies. Resolves with the last response (a 5xx too, once
   * retries are over: the caller relays it); rejects with `SVC_NO_ENDPOINTS`, `SVC_OVERLOADED`,
   * `SVC_TIMEOUT`, or the last error `attempt` threw.
   */
  async invoke<R extends ResponseLike>(
    request: ServiceRequest,
    attempt: (endpoint: E, ctx: AttemptContext) => Promise<R>,
    /** The caller giving up (an AbortSignal, or a cheaper `Cancel`): attempts are aborted, no more are made. */
    signal?: AbortLike,
    /** This request's own endpoint order (affinity, round robin); default: the service's. */
    order?: () => readonly E[],
  ): Promise<R> {
    this.counters.requests++;
    this.budget.recordRequest();
    await this.enter();
    try {
      const idempotent = isIdempotent(request);
      const r = this.policy.retries;
      const tried = new Set<string>();
      const endpoints = order ?? this.opts.endpoints;
      for (let made = 1; ; made++) {
        let res: R;
        try {
          res = await this.once(attempt, tried, made, endpoints, signal);
        } catch (err) {
          // A request that never reached the endpoint (connection refused) is safe to send
          // again whatever its method: nothing happened the first time. Budget last, so it is
          // only spent on real retries.
          const again = !isMeridianError(err, ErrorCode.SvcNoEndpoints) && !(signal?.aborted ?? false) && made <= r.max && (idempotent || isUndelivered(err)) && this.budget.tryRetry();
          if (!again) throw err;
          await this.backoff(made, signal);
          continue;
        }
        if (!(this.retryOn.has(res.status) && idempotent && made <= r.max && this.budget.tryRetry())) return res;
        await this.backoff(made, signal);
      }
    } finally {
      this.leave();
    }
  }

  /**
   * Count a request as in flight to `key` until the returned function is called. The proxy holds
   * one while it streams a response body, so P2C sees a long streaming answer as load (an
   * attempt itself ends when the response head arrives).
   */
  track(key: string): () => void {
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
    };
  }

  snapshot(): ServicePolicySnapshot {
    const keys = new Set([...this.inFlight.keys(), ...this.opts.endpoints().map((e) => e.key)]);
    return {
      service: this.service,
      policy: this.policy,
      bulkhead: { maxConcurrent: this.policy.bulkhead.maxConcurrent, queue: this.policy.bulkhead.queue, available: this.policy.bulkhead.maxConcurrent - this.active, queueAvailable: this.policy.bulkhead.queue - this.waiting.length },
      budget: this.budget.snapshot(),
      endpoints: [...keys].sort().map((key) => ({ key, inFlight: this.inFlight.get(key) ?? 0, breaker: this.breakers.state(key), ejection: this.outlier.snapshot(key) })),
      counters: { ...this.counters },
    };
  }

  /** One attempt: pick, then breaker → timeout → the transport. */
  private async once<R extends ResponseLike>(attempt: (endpoint: E, ctx: AttemptContext) => Promise<R>, tried: Set<string>, n: number, endpoints: () => readonly E[], signal?: AbortLike): Promise<R> {
    const all = endpoints();
    const endpoint = this.pick(all, tried);
    tried.add(endpoint.key);
    this.counters.attempts++;
    this.inFlight.set(endpoint.key, (this.inFlight.get(endpoint.key) ?? 0) + 1);
    try {
      const res = await this.breakers.get(endpoint.key).execute(async () => {
        try {
          return await this.withTimeout(endpoint, n, attempt, signal);
        } catch (err) {
          if (signal?.aborted ?? false) throw new CallerGoneError(err);
          throw err;
        }
      });
      if (isServerFailure(res)) this.outlier.onFailure(endpoint.key, all.length);
      else this.outlier.onSuccess(endpoint.key);
      return res;
    } catch (err) {
      if (err instanceof CallerGoneError) throw err.cause;
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
   * The per-attempt timeout, aggressive: the attempt's signal is aborted and the call rejects
   * with `SVC_TIMEOUT` at the deadline, whether or not the transport listens. (Hand-written
   * rather than cockatiel's: one timer and one `Cancel` per attempt, no promise race, and no
   * AbortController unless the transport reads `signal`; the policy layer is on every proxied
   * request.)
   */
  private withTimeout<R>(endpoint: E, n: number, attempt: (endpoint: E, ctx: AttemptContext) => Promise<R>, signal?: AbortLike): Promise<R> {
    const ctrl = new Cancel();
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onCaller);
        return true;
      };
      const onCaller = (): void => {
        if (!finish()) return;
        ctrl.abort();
        reject(new MeridianError(ErrorCode.SvcTimeout, `service ${this.service}: the caller gave up`, { details: { service: this.service, endpoint: endpoint.key } }));
      };
      const timer = setTimeout(() => {
        if (!finish()) return;
        this.counters.timeouts++;
        ctrl.abort();
        reject(new MeridianError(ErrorCode.SvcTimeout, `service ${this.service}: ${endpoint.key} did not answer within ${this.policy.timeoutMs} ms`, { details: { service: this.service, endpoint: endpoint.key, timeoutMs: this.policy.timeoutMs } }));
      }, this.policy.timeoutMs);
      if (signal?.aborted ?? false) return onCaller();
      signal?.addEventListener('abort', onCaller, { once: true });
      // A transport that throws synchronously rejects like one that rejects.
      Promise.resolve()
        .then(() => attempt(endpoint, new Attempt(n, ctrl)))
        .then(
        (v) => finish() && resolve(v),
        (e: unknown) => finish() && reject(e as Error),
      );
    });
  }

  /** Full-jitter exponential backoff before retry n+1: uniform in [0, min(max, base·2^(n-1))). */
  private async backoff(made: number, signal?: AbortLike): Promise<void> {
    this.counters.retries++;
    const r = this.policy.retries;
    const ms = Math.random() * Math.min(r.maxDelayMs, r.baseDelayMs * 2 ** (made - 1));
    if (ms < 1) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }

  /** Take a bulkhead slot, waiting in the queue if there is room there; else `SVC_OVERLOADED`. */
  private enter(): Promise<void> | void {
    const b = this.policy.bulkhead;
    if (this.active < b.maxConcurrent) {
      this.active++;
      return;
    }
    if (this.waiting.length >= b.queue) {
      this.counters.overloaded++;
      throw new MeridianError(ErrorCode.SvcOverloaded, `service ${this.service}: ${b.maxConcurrent} requests in flight on this node (bulkhead full)`, {
        details: { service: this.service, maxConcurrent: b.maxConcurrent, queue: b.queue },
      });
    }
    // The slot is handed over by `leave` (active stays counted), so no one can jump the queue.
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /**
   * Tiers are runs of endpoints in the same region, in the given (preference) order. The first
   * tier with an eligible endpoint not yet tried wins, so a retry moves to another endpoint and,
   * when the local region has none left, to the next region. When every eligible endpoint was
   * tried, the best tier is used again.
   */
  private pick(all: readonly E[], tried: ReadonlySet<string>): E {
    // One pass (this runs per attempt): `first` is the first tier with an eligible endpoint,
    // `fresh` the untried eligible endpoints of the first tier that has any.
    let first: E[] | undefined;
    let fresh: E[] | undefined;
    let region: string | undefined;
    let cur: E[] = [];
    let curFresh: E[] = [];
    for (const e of all) {
      if (this.outlier.isEjected(e.key) || this.breakers.blocking(e.key)) continue;
      if (e.region !== region) {
        if (curFresh.length > 0) break;
        if (first === undefined && cur.length > 0) first = cur;
        region = e.region;
        cur = [];
        curFresh = [];
      }
      cur.push(e);
      if (!tried.has(e.key)) curFresh.push(e);
    }
    if (curFresh.length > 0) fresh = curFresh;
    if (first === undefined && cur.length > 0) first = cur;
    const tier = fresh ?? first;
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

/** What an attempt gets: its number and its cancellation; `signal` (a real AbortSignal) on demand. */
class Attempt implements AttemptContext {
  constructor(
    readonly attempt: number,
    readonly cancel: Cancel,
  ) {}

  get signal(): AbortSignal {
    return this.cancel.signal;
  }
}
