/**
 * Outlier ejection: an endpoint that fails `consecutiveFailures` times in a row leaves the pool
 * for `baseEjectionMs × n` (n = how many times it has been ejected recently), capped at
 * `maxEjectionMs`; never more than `maxEjectedShare` of the pool at once, but always at least
 * one endpoint may be ejected (Envoy: 5 consecutive 5xx, 30 s × n, max 300 s, max 10 %).
 *
 * The multiplier is the memory that the breaker lacks: an endpoint that keeps failing stays out
 * longer each time. It decays by one for every `baseEjectionMs` the endpoint spends back in the
 * pool without being ejected, so an endpoint that recovered for good returns to short ejections.
 */
import type { ResolvedPolicy } from './config.js';

export interface EjectionSnapshot {
  readonly ejected: boolean;
  /** Epoch ms (detector clock) when the current ejection ends; null when not ejected. */
  readonly until: number | null;
  /** The current multiplier n. */
  readonly ejections: number;
  readonly consecutiveFailures: number;
}

interface State {
  consecutive: number;
  multiplier: number;
  ejectedUntil: number;
}

export class OutlierDetector {
  private readonly states = new Map<string, State>();

  constructor(
    private readonly cfg: ResolvedPolicy['outlier'],
    private readonly now: () => number = Date.now,
  ) {}

  isEjected(key: string): boolean {
    const s = this.states.get(key);
    return s !== undefined && s.ejectedUntil > this.now();
  }

  onSuccess(key: string): void {
    const s = this.states.get(key);
    if (s) s.consecutive = 0;
  }

  /**
   * Count a failure of `key` in a pool of `poolSize` endpoints. Returns the ejection duration
   * when this failure ejected it, else 0.
   */
  onFailure(key: string, poolSize: number): number {
    const s = this.state(key);
    const now = this.now();
    if (s.ejectedUntil > now) return 0; // a request that started before the ejection
    s.consecutive++;
    if (s.consecutive < this.cfg.consecutiveFailures) return 0;
    const share = this.cfg.maxEjectedShare;
    const allowed = share === 0 ? 0 : Math.max(1, Math.floor(share * poolSize));
    if (this.ejectedCount() >= allowed) return 0;
    // Decay for the time spent healthy since the last ejection ended.
    if (s.multiplier > 0 && s.ejectedUntil > 0) s.multiplier = Math.max(0, s.multiplier - Math.floor((now - s.ejectedUntil) / this.cfg.baseEjectionMs));
    s.multiplier++;
    s.consecutive = 0;
    const duration = Math.min(this.cfg.baseEjectionMs * s.multiplier, this.cfg.maxEjectionMs);
    s.ejectedUntil = now + duration;
    return duration;
  }

  ejectedCount(): number {
    const now = this.now();
    let n = 0;
    for (const s of this.states.values()) if (s.ejectedUntil > now) n++;
    return n;
  }

  snapshot(key: string): EjectionSnapshot {
    const s = this.states.get(key);
    const ejected = s !== undefined && s.ejectedUntil > this.now();
    return { ejected, until: ejected ? s.ejectedUntil : null, ejections: s?.multiplier ?? 0, consecutiveFailures: s?.consecutive ?? 0 };
  }

  /** Drop state of endpoints that are gone (and not ejected: the ejection must outlive a blip). */
  retain(keys: ReadonlySet<string>): void {
    const now = this.now();
    for (const [k, s] of this.states) if (!keys.has(k) && s.ejectedUntil <= now) this.states.delete(k);
  }

  private state(key: string): State {
    let s = this.states.get(key);
    if (!s) this.states.set(key, (s = { consecutive: 0, multiplier: 0, ejectedUntil: 0 }));
    return s;
  }
}
