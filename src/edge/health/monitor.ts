/**
 * The health monitor: active probes of every region's `/ready` plus passive outlier detection,
 * folded into one `RegionHealth` per region. Probe results move a region between up and down only
 * after `downAfter` / `upAfter` consecutive results (hysteresis), except the very first result,
 * which sets the state at once so a freshly started edge can serve within one probe.
 *
 * Probes are plain node:http / node:https GETs on a fresh connection with a per-attempt timeout —
 * not fetch, which refuses the "bad ports" browsers block (6000, 6666…) and would report a region
 * there as down forever. A fresh connection per probe also means a region that stopped accepting
 * connections is seen as such, not hidden behind a pooled socket. A probe never overlaps the next
 * one for the same region (the next starts `intervalMs` after this one started, or when it ends
 * if it ran longer).
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { OutlierDetector } from './outlier.js';
import { DEFAULT_OUTLIER, DEFAULT_PROBE } from './types.js';
import type { Clock, OutlierConfig, ProbeConfig, RegionHealth } from './types.js';

export interface HealthMonitorOptions {
  /** Base URL (http://host:port) of every region to watch. */
  readonly regions: Readonly<Record<string, string>>;
  readonly probe?: Partial<ProbeConfig>;
  readonly outlier?: Partial<OutlierConfig>;
  readonly clock?: Clock;
}

interface ProbeState {
  probeHealthy: boolean | null;
  lastProbe: number | null;
  consecutiveOk: number;
  consecutiveFail: number;
  lastError: string | null;
}

export type HealthListener = (health: RegionHealth) => void;

/** One GET: resolves to the status code, or rejects with `ECONNREFUSED`, `timeout`, … */
function getStatus(url: URL, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsGet : httpGet)(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? err.message)));
  });
}

export class HealthMonitor {
  readonly probeConfig: ProbeConfig;
  readonly outlierConfig: OutlierConfig;
  readonly #urls: ReadonlyMap<string, string>;
  readonly #probes = new Map<string, ProbeState>();
  readonly #outliers: OutlierDetector;
  readonly #clock: Clock;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #listeners = new Set<HealthListener>();
  readonly #lastHealthy = new Map<string, boolean>();
  #running = false;

  constructor(options: HealthMonitorOptions) {
    this.probeConfig = { ...DEFAULT_PROBE, ...options.probe };
    this.outlierConfig = { ...DEFAULT_OUTLIER, ...options.outlier };
    if (!(this.probeConfig.timeoutMs < this.probeConfig.intervalMs)) throw new RangeError('probe timeoutMs must be below intervalMs');
    this.#clock = options.clock ?? Date.now;
    this.#urls = new Map(Object.entries(options.regions));
    for (const r of this.#urls.keys()) this.#probes.set(r, { probeHealthy: null, lastProbe: null, consecutiveOk: 0, consecutiveFail: 0, lastError: null });
    this.#outliers = new OutlierDetector([...this.#urls.keys()], this.outlierConfig, this.#clock);
  }

  get regions(): readonly string[] {
    return [...this.#urls.keys()];
  }

  /**
   * Start probing every region now and then every interval. Resolves once every region has had
   * its first probe, so a caller can serve knowing what is up.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await Promise.all([...this.#urls.keys()].map((region) => this.#loop(region)));
  }

  stop(): void {
    this.#running = false;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  /** Called by the change of any region's `healthy`; returns the unsubscribe function. */
  subscribe(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** One probe of one region (with its retries), applied to the state. Exposed for tests. */
  async probe(region: string): Promise<RegionHealth> {
    const url = this.#urls.get(region);
    if (url === undefined) throw new RangeError(`unknown region ${region}`);
    const { timeoutMs, retries, expectedCodes, path } = this.probeConfig;
    let error: string | null = null;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const status = await getStatus(new URL(path, url), timeoutMs);
        error = expectedCodes.includes(status) ? null : `status ${status}`;
        break; // an answer, good or bad, is the region speaking: no retry
      } catch (err) {
        error = (err as Error).message;
      }
    }
    this.#apply(region, error);
    return this.health(region);
  }

  /** A proxied request or WebSocket dial to `region` succeeded or failed (passive detection). */
  recordOutcome(region: string, ok: boolean): void {
    if (this.#outliers.record(region, ok) || !ok) this.#notify(region);
  }

  health(region: string): RegionHealth {
    const p = this.#probes.get(region) ?? { probeHealthy: null, lastProbe: null, consecutiveOk: 0, consecutiveFail: 0, lastError: null };
    const o = this.#outliers.view(region);
    return {
      region,
      healthy: p.probeHealthy === true && o.ejectedUntil === null,
      probeHealthy: p.probeHealthy,
      lastProbe: p.lastProbe,
      consecutiveOk: p.consecutiveOk,
      consecutiveFail: p.consecutiveFail,
      passiveFailures: o.passiveFailures,
      ejectedUntil: o.ejectedUntil,
      ejections: o.ejections,
      lastError: p.lastError,
    };
  }

  all(): RegionHealth[] {
    return this.regions.map((r) => this.health(r));
  }

  #apply(region: string, error: string | null): void {
    const p = this.#probes.get(region);
    if (p === undefined) return;
    const ok = error === null;
    p.lastProbe = this.#clock();
    if (ok) {
      p.consecutiveOk++;
      p.consecutiveFail = 0;
    } else {
      p.consecutiveFail++;
      p.consecutiveOk = 0;
      p.lastError = error;
    }
    if (p.probeHealthy === null) p.probeHealthy = ok;
    else if (ok && !p.probeHealthy && p.consecutiveOk >= this.probeConfig.upAfter) p.probeHealthy = true;
    else if (!ok && p.probeHealthy && p.consecutiveFail >= this.probeConfig.downAfter) p.probeHealthy = false;
    this.#notify(region);
  }

  #notify(region: string): void {
    const h = this.health(region);
    if (this.#lastHealthy.get(region) === h.healthy) return;
    this.#lastHealthy.set(region, h.healthy);
    for (const l of this.#listeners) l(h);
  }

  async #loop(region: string): Promise<void> {
    if (!this.#running) return;
    const started = Date.now();
    await this.probe(region);
    if (!this.#running) return;
    const wait = Math.max(0, this.probeConfig.intervalMs - (Date.now() - started));
    // unref: a monitor alone must not keep a process (or a test run) alive.
    this.#timers.set(region, setTimeout(() => void this.#loop(region), wait).unref());
  }
}
