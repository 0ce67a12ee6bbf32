/**
 * Types of the call path: what `invoke` needs to know about a request, an endpoint and a
 * response, kept transport-agnostic (the HTTP proxy maps its own objects onto these), and the
 * policy state as data (for `GET /v1/services/{name}`).
 */
import { MeridianError } from '../../errors/mod.js';
import type { AbortLike } from './abort.js';
import type { RetryBudgetSnapshot } from './budget.js';
import type { BreakerState } from './breakers.js';
import type { ResolvedPolicy } from './config.js';
import type { EjectionSnapshot } from './outlier.js';

/** The minimum of an endpoint that policies use; the registry's `Endpoint` satisfies it. */
export interface PolicyEndpoint {
  /** Stable identity for per-endpoint state. */
  readonly key: string;
  /** Endpoints in one region form one preference tier. */
  readonly region: string;
  readonly weight: number;
}

export interface ServiceRequest {
  /** HTTP method (or a transport's equivalent). */
  readonly method: string;
  /** A client-supplied idempotency key makes any method safe to retry. */
  readonly idempotencyKey?: string;
  /** Override: the caller knows better (e.g. a POST to a pure function). */
  readonly idempotent?: boolean;
}
/** Anything with an HTTP-like status; 5xx counts as a failure of the endpoint. */
export interface ResponseLike {
  readonly status: number;
}

export interface AttemptContext {
  /** Aborted on timeout or when the caller gives up: pass it to the transport. */
  readonly signal: AbortSignal;
  /**
   * The same, cheaper (abort.ts): for a transport that takes any abort-event source (undici);
   * `signal` is made only when read.
   */
  readonly cancel: AbortLike;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

// RFC 9110 §9.2.2: methods whose repetition has the same intended effect.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isIdempotent(req: ServiceRequest): boolean {
  if (req.idempotent !== undefined) return req.idempotent;
  return IDEMPOTENT.has(req.method.toUpperCase()) || (req.idempotencyKey !== undefined && req.idempotencyKey !== '');
}

/**
 * True for a failed attempt that provably never reached the endpoint (the transport marks it
 * with `details.delivered === false`, e.g. connection refused before a byte was sent).
 */
export function isUndelivered(err: unknown): boolean {
  return err instanceof MeridianError && err.details['delivered'] === false;
}

export interface EndpointPolicyState {
  readonly key: string;
  /** This node's requests outstanding to the endpoint. */
  readonly inFlight: number;
  readonly breaker: BreakerState;
  readonly ejection: EjectionSnapshot;
}

export interface ServicePolicySnapshot {
  readonly service: string;
  readonly policy: ResolvedPolicy;
  readonly bulkhead: { readonly maxConcurrent: number; readonly queue: number; readonly available: number; readonly queueAvailable: number };
  readonly budget: RetryBudgetSnapshot;
  readonly endpoints: readonly EndpointPolicyState[];
  readonly counters: {
    readonly requests: number;
    readonly attempts: number;
    readonly retries: number;
    readonly noEndpoints: number;
    readonly overloaded: number;
    readonly timeouts: number;
  };
}
