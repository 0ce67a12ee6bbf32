/**
 * The vocabulary of region health: probe and outlier settings with their defaults, and the state
 * the monitor keeps per region as plain data (served unchanged by the edge's GET /v1/regions).
 *
 * Defaults are chosen so a dead region leaves new routes within 2 s: a probe every 500 ms that
 * times out after 400 ms, down after 2 failures in a row → at worst 2 × 500 + 400 = 1.4 s after
 * the last good answer. Up needs 3 successes in a row (hysteresis: a flapping region is not
 * handed clients on its first good answer).
 */

export interface ProbeConfig {
  /** Time between probe starts, ms. */
  readonly intervalMs: number;
  /** One attempt gives up after this long, ms; must be below intervalMs so probes never overlap. */
  readonly timeoutMs: number;
  /**
   * Immediate re-attempts after a connection error or timeout within one probe (not after an
   * answer such as 503, which is the region speaking). 0 by default: the down threshold already
   * asks for consecutive failures, and each retry would push the worst case past 2 s.
   */
  readonly retries: number;
  /** Consecutive failed probes before a healthy region is marked down. */
  readonly downAfter: number;
  /** Consecutive good probes before a down region is marked up again. */
  readonly upAfter: number;
  /** Path probed on each region's base URL. */
  readonly path: string;
  /** Status codes that count as ready. */
  readonly expectedCodes: readonly number[];
}

/** Envoy-style passive outlier detection from the outcomes of proxied requests and WebSockets. */
export interface OutlierConfig {
  /** Consecutive proxied failures (connect error, reset, 502/503/504) that eject a region. */
  readonly consecutiveFailures: number;
  /** Ejection lasts base × number of ejections so far (1st 30 s, 2nd 60 s…). */
  readonly baseEjectionMs: number;
  /** …capped here. */
  readonly maxEjectionMs: number;
  /**
   * At most this share of the regions ejected at once, but always at least one (Envoy's
   * max_ejection_percent rule): passive detection must not empty the map on a shared fault such as
   * the edge's own network; active probes still take dead regions out.
   */
  readonly maxEjectedShare: number;
}

export interface HealthConfig {
  readonly probe: ProbeConfig;
  readonly outlier: OutlierConfig;
}

export const DEFAULT_PROBE: ProbeConfig = {
  intervalMs: 500,
  timeoutMs: 400,
  retries: 0,
  downAfter: 2,
  upAfter: 3,
  path: '/ready',
  expectedCodes: [200],
};

/** Envoy's outlier defaults: 5 consecutive failures, 30 s × n up to 300 s, 10 % (≥ 1) ejected. */
export const DEFAULT_OUTLIER: OutlierConfig = {
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectedShare: 0.1,
};

/** One region's health as data. Times are epoch ms from the monitor's clock. */
export interface RegionHealth {
  readonly region: string;
  /** Usable for new clients: probes say up and the region is not ejected. */
  readonly healthy: boolean;
  /** What the active probes alone say; null before the first probe finished. */
  readonly probeHealthy: boolean | null;
  /** When the last probe finished, or null. */
  readonly lastProbe: number | null;
  readonly consecutiveOk: number;
  readonly consecutiveFail: number;
  /** Consecutive failures seen by the passive detector (reset by any proxied success). */
  readonly passiveFailures: number;
  /** Ejected by outlier detection until this time; null when not ejected. */
  readonly ejectedUntil: number | null;
  /** How many times the region was ejected (decays by one per base period without ejection). */
  readonly ejections: number;
  readonly lastError: string | null;
}

export type Clock = () => number;
