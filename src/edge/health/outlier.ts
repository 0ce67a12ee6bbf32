/**
 * Passive outlier detection (Envoy's consecutive-failure ejection) from what the proxy sees: a
 * region whose proxied requests or WebSocket dials fail N times in a row is ejected for
 * base × ejections (capped), without waiting for the next active probe. A killed region's open
 * WebSockets all drop at once, so this usually takes it out in milliseconds; the probes are the
 * backstop for regions nobody is talking to.
 *
 * Time comes from an injected clock and ejections end lazily (compared on read), so there is no
 * timer to leak and tests can move time by hand.
 */
import type { Clock, OutlierConfig } from './types.js';

interface Entry {
  failures: number;
  ejectedUntil: number | null;
  ejections: number;
}

export interface OutlierView {
  readonly passiveFailures: number;
  readonly ejectedUntil: number | null;
  readonly ejections: number;
}

export class OutlierDetector {
  readonly #entries = new Map<string, Entry>();

  constructor(
    regions: readonly string[],
    private readonly config: OutlierConfig,
    private readonly clock: Clock,
  ) {
    for (const r of regions) this.#entries.set(r, { failures: 0, ejectedUntil: null, ejections: 0 });
  }

  /** Record one proxied outcome; returns true when this failure ejected the region. */
  record(region: string, ok: boolean): boolean {
    const e = this.#entries.get(region);
    if (e === undefined) return false;
    if (ok) {
      e.failures = 0;
      return false;
    }
    e.failures++;
    const now = this.clock();
    if (e.failures < this.config.consecutiveFailures || this.#ejected(e, now)) return false;
    if (this.ejectedCount(now) >= this.#maxEjected()) return false;
    // The multiplier decays by one per base period spent since the last ejection ended, so a
    // region that failed once a week ago is not punished like a region that flaps every minute.
    if (e.ejectedUntil !== null) {
      const decay = Math.floor((now - e.ejectedUntil) / this.config.baseEjectionMs);
      e.ejections = Math.max(0, e.ejections - Math.max(0, decay));
    }
    e.ejections++;
    e.ejectedUntil = now + Math.min(this.config.baseEjectionMs * e.ejections, this.config.maxEjectionMs);
    e.failures = 0;
    return true;
  }

  isEjected(region: string): boolean {
    const e = this.#entries.get(region);
    return e !== undefined && this.#ejected(e, this.clock());
  }

  ejectedCount(now = this.clock()): number {
    let n = 0;
    for (const e of this.#entries.values()) if (this.#ejected(e, now)) n++;
    return n;
  }

  view(region: string): OutlierView {
    const e = this.#entries.get(region);
    if (e === undefined) return { passiveFailures: 0, ejectedUntil: null, ejections: 0 };
    return { passiveFailures: e.failures, ejectedUntil: this.#ejected(e, this.clock()) ? e.ejectedUntil : null, ejections: e.ejections };
  }

  #ejected(e: Entry, now: number): boolean {
    return e.ejectedUntil !== null && e.ejectedUntil > now;
  }

  #maxEjected(): number {
    return Math.max(1, Math.floor(this.config.maxEjectedShare * this.#entries.size));
  }
}
