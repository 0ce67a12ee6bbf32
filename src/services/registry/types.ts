/**
 * The worker registry's data model: what a worker registers, what the registry stores in the
 * workers bucket of the region that took the registration or heartbeat, and what callers read
 * back (endpoints ordered local region first).
 *
 * One KV entry per worker and bucket, keyed by the worker id, holding the whole record as JSON. A
 * heartbeat rewrites the record (new load, new revision); eviction replaces it with a tombstone by
 * CAS, so every change is one atomic write and racing writers can only lose, never merge. A worker
 * can be held by several regions' buckets (it moved its heartbeats): views count it once, from
 * the freshest entry (view.ts).
 */

/** One HTTP service a worker serves. */
export interface ServiceSpec {
  /** Service name, e.g. `llm` (letters, digits, `_ . -`; 1-64 characters). */
  readonly name: string;
  /** Base URL the proxy calls: http or https, no credentials. */
  readonly url: string;
  /** Relative share of traffic within the worker's region. Default 1. */
  readonly weight?: number;
  /** Free-form labels (e.g. gpu model), strings only. */
  readonly meta?: Readonly<Record<string, string>>;
}

/** A function the worker can run. */
export interface FunctionSpec {
  readonly name: string;
  /**
   * Where region nodes POST the CloudEvent (binary mode), e.g. `http://10.0.0.7:8080/fn/resize`.
   * Absent: the function runs inside a region node's process (worker SDK, in-process mode) and
   * is reached over the bus at `subjects.fnWorker(workerId)`.
   */
  readonly url?: string;
}

export interface WorkerRegistration {
  /** Stable worker id, unique in the fleet (letters, digits, `_ -`; 1-128 characters). */
  readonly id: string;
  /** Region the worker runs in: the locality endpoints are ordered by. */
  readonly region: string;
  readonly services: readonly ServiceSpec[];
  readonly functions?: readonly FunctionSpec[];
}

/** Load a worker reports with each heartbeat. */
export interface WorkerLoad {
  /** Requests the worker is serving right now. */
  readonly inFlight: number;
  /** Extra numeric gauges (memory, GPU use...), reported as-is. */
  readonly metrics?: Readonly<Record<string, number>>;
}

/** What `register` returns: how the worker must keep itself alive. */
export interface WorkerLease {
  readonly id: string;
  readonly heartbeatIntervalMs: number;
  /** Without a heartbeat for this long the worker is stale (not offered to callers). */
  readonly staleAfterMs: number;
  /** Without a heartbeat for this long the worker is evicted (removed; must register again). */
  readonly evictAfterMs: number;
  /** KV revision of the registration. */
  readonly revision: number;
}

/** The stored record (JSON in the KV entry). Timing is stored so every region judges alike. */
export interface WorkerRecord {
  readonly v: 1;
  readonly kind: 'worker';
  readonly id: string;
  readonly region: string;
  readonly services: ReadonlyArray<Required<Pick<ServiceSpec, 'name' | 'url' | 'weight'>> & { readonly meta: Readonly<Record<string, string>> }>;
  readonly functions: readonly string[];
  /** Function name → CloudEvents URL; functions missing here run in-process (see `FunctionSpec.url`). */
  readonly functionUrls?: Readonly<Record<string, string>>;
  readonly load: { readonly inFlight: number; readonly metrics: Readonly<Record<string, number>> };
  readonly heartbeatIntervalMs: number;
  readonly staleAfterMs: number;
  readonly evictAfterMs: number;
  /** Writer's wall clock (informational; liveness is judged from when changes are observed). */
  readonly registeredAt: number;
  readonly heartbeatAt: number;
}

/**
 * What an eviction or a deregistration leaves behind, collected by the bucket TTL. `evicted`
 * empties this bucket's entry only (the worker may live on in another region's bucket);
 * `deregistered` (the worker's own exit) outranks every older entry of the worker in any bucket.
 */
export interface Tombstone {
  readonly v: 1;
  readonly kind: 'evicted' | 'deregistered';
  readonly id: string;
  /** The region of the node that wrote it (always the bucket's own region). */
  readonly by: string;
  readonly at: number;
}

export type WorkerHealth = 'healthy' | 'stale';

/** A worker as one region's view sees it. */
export interface WorkerView {
  readonly record: WorkerRecord;
  readonly revision: number;
  readonly health: WorkerHealth;
  /** Milliseconds since this view last saw the worker change (register or heartbeat). */
  readonly ageMs: number;
  /** The region whose workers bucket holds this (the freshest) record: where it last heartbeated. */
  readonly heldIn: string;
}

/** One callable endpoint of a service. */
export interface Endpoint {
  /** Stable key for per-endpoint state (breaker, ejection, in-flight): `<worker>|<url>`. */
  readonly key: string;
  readonly service: string;
  readonly workerId: string;
  readonly region: string;
  readonly url: string;
  readonly weight: number;
  readonly meta: Readonly<Record<string, string>>;
  /** Worker-reported in-flight requests at its last heartbeat. */
  readonly reportedInFlight: number;
  /** Round-trip estimate from the asking region (0 for the local region). */
  readonly rttMs: number;
  /** True only in panic mode (see `RegistryOptions.panicThreshold`). */
  readonly stale: boolean;
}

/** One instance of a function (a worker that declared it), ordered like endpoints. */
export interface FunctionInstance {
  /** `<worker>|fn:<name>`: the key of its breaker, ejection and affinity state. */
  readonly key: string;
  readonly function: string;
  readonly workerId: string;
  readonly region: string;
  /** HTTP URL to POST CloudEvents to; undefined for an in-process instance (bus). */
  readonly url: string | undefined;
  readonly weight: number;
  readonly reportedInFlight: number;
  readonly rttMs: number;
  readonly stale: boolean;
}

export interface ServiceSummary {
  readonly name: string;
  readonly endpoints: number;
  readonly healthy: number;
  readonly regions: readonly string[];
}

/** Round-trip time in ms between two regions; 0 within a region. */
export type RttSource = (from: string, to: string) => number;
