/**
 * The vocabulary of the steering policy: what the edge knows about each region, what it knows
 * about the client, and the decision it hands back. Plain data, so the edge endpoint can return a
 * decision as JSON unchanged and tests can compare decisions with `toEqual`.
 */

/** What the health and load monitors report for one region. */
export interface RegionState {
  readonly healthy: boolean;
  /** Open client connections now; compared with `capacity.connections`. */
  readonly connections: number;
  /** Requests per second now; compared with `capacity.rps`. */
  readonly rps: number;
}

/** States by region name; a region with no entry is treated as unknown and never chosen. */
export type RegionStates = ReadonlyMap<string, RegionState> | Readonly<Partial<Record<string, RegionState>>>;

/** The client as far as the edge knows it: from the request, GeoIP, or both. */
export interface SteeringClient {
  /** ISO 3166-1 alpha-2; any case on input, upper case after validation. */
  readonly country?: string | undefined;
  readonly lat?: number | undefined;
  readonly lon?: number | undefined;
}

/** Measured round-trip time from this client (or its location bucket) to a region, in ms. */
export type RttSource = (region: string) => number | undefined;

export interface DecideOptions {
  /** Measurements reported by the client or by probes; they replace the distance estimate. */
  readonly measuredRttMs?: RttSource;
}

/** Each part in [0, 1], 1 best; the score is Σ weight × part with the topology's weights. */
export interface ScoreParts {
  readonly proximity: number;
  readonly health: number;
  readonly latency: number;
  readonly cost: number;
}

export type RttKind = 'measured' | 'estimated' | 'unknown';

export interface Candidate {
  readonly region: string;
  /** Absent only for a region with no reported state (nothing to score). */
  readonly score?: number;
  readonly parts?: ScoreParts;
  readonly distanceKm?: number;
  readonly rttMs?: number;
  readonly rtt?: RttKind;
  /**
   * Why this region could not be chosen, as a stable code: `residency:<rule>`, `no-state`,
   * `unhealthy`, `over-capacity:connections`, `over-capacity:rps`,
   * `residency-preference:<rule>`, `outside-pool`. Absent for the winner and for eligible regions
   * that simply scored lower.
   */
  readonly excluded?: string;
}

export type DecisionReason =
  /** The best-scoring eligible region of the client's pool. */
  | 'best-score'
  /** A region that would have scored higher was at its capacity cap; spilled per pool or fallback chain. */
  | 'overflow'
  /** No pool member was healthy; the first eligible region on the pool's fallback chains. */
  | 'fallback'
  /** Pool and fallback chains exhausted; the best-scoring eligible region anywhere allowed. */
  | 'outside-pool'
  /** 503: a strict residency rule applies and no region it allows is available. */
  | 'residency-no-region'
  /** 503: regions are healthy but every allowed one is at its capacity cap. */
  | 'no-capacity'
  /** 503: no allowed region is healthy. */
  | 'no-healthy-region';

export interface Decision {
  readonly region: string | null;
  readonly status: 200 | 503;
  readonly reason: DecisionReason;
  /**
   * Facts that shaped the decision, as stable codes: `pool:countries[i]`, `pool:default`,
   * `pool:all-regions`, `residency:<rule>` (strict rule applied), `residency-preferred:<rule>`,
   * `residency-relaxed:<rule>`, `no-client-location` (proximity and latency neutral),
   * `rtt-measured`, `fallback-of:<region>`.
   */
  readonly notes: readonly string[];
  /** Every region of the topology, best score first (ties by name), unscored last. */
  readonly candidates: readonly Candidate[];
}
