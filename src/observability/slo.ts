/**
 * Service-level objectives, evaluated live from what a node observed: its region's `slo:`
 * targets (availability, p95, p99, or an explicit error-rate budget; src/topology/slo.ts merges
 * the global ones with the region's own) against rolling windows of
 * 5 minutes and 1 hour. Pure: the clock is injected, so the maths is tested by tables.
 *
 * Two kinds of observations:
 * - outcomes: a send accepted through this node, good or failed (a failure is the service's
 *   fault: home unreachable, timeout, internal error; a client's invalid or forbidden send is not
 *   an event at all);
 * - latencies: the end-to-end delivery latency of each message this node delivers.
 *
 * availability = good / total; error rate = failed / total;
 * error budget = targets.errorRate, else 1 - targets.availability;
 * burn rate = error rate / error budget (1: the budget is spent exactly at the end of the SLO
 * period; 14.4 over 1 h: a 30-day budget gone in ~2 days).
 * Percentiles come from bucket counts as Prometheus' histogram_quantile computes them: linear
 * interpolation inside the bucket holding the rank (so they are precise to a bucket's width).
 */
import { SlotRing } from './windows.js';
import type { Clock } from './windows.js';

export interface SloTargets {
  /** Fraction of good events, 0..1. */
  readonly availability?: number;
  readonly p95Ms?: number;
  readonly p99Ms?: number;
  /** Allowed fraction of failed events; overrides 1 - availability as the error budget. */
  readonly errorRate?: number;
}

export interface SloWindow {
  readonly total: number;
  readonly good: number;
  readonly failed: number;
  /** null: no outcome in the window. */
  readonly availability: number | null;
  readonly errorRate: number | null;
  /** null without a budget (no availability/errorRate target) or without outcomes. */
  readonly burnRate: number | null;
  /** Deliveries whose latency was observed. */
  readonly latencyCount: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  /** Every target with data is met (a window without data is ok). */
  readonly ok: boolean;
}

/** Targets as the JSON reports show them: every field present, null when not set. */
export interface SloTargetsReport {
  readonly availability: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly errorRate: number | null;
}

export function targetsReport(t: SloTargets): SloTargetsReport {
  return { availability: t.availability ?? null, p95Ms: t.p95Ms ?? null, p99Ms: t.p99Ms ?? null, errorRate: t.errorRate ?? null };
}

export interface SloReport {
  readonly targets: SloTargetsReport;
  readonly ok: boolean;
  readonly windows: { readonly '5m': SloWindow; readonly '1h': SloWindow };
  readonly burnRate5m: number | null;
  readonly burnRate1h: number | null;
}

/** Upper bounds (ms) of the latency buckets the SLO quantiles are computed from; +Inf after. */
export const SLO_BOUNDS_MS: readonly number[] = [1, 2, 3, 5, 7.5, 10, 15, 20, 30, 40, 50, 60, 75, 100, 125, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000];

export const WINDOWS_MS = { '5m': 5 * 60_000, '1h': 60 * 60_000 } as const;

const SLOT_MS = 10_000;
// Columns of the outcome ring.
const TOTAL = 0;
const FAILED = 1;

/** Value at quantile q (0..1) of bucket counts `counts` over `bounds` (+Inf last); null if empty. */
export function quantileFromBuckets(bounds: readonly number[], counts: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return null;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (cum + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null; // the +Inf bucket
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      return lower + ((upper - lower) * (rank - cum)) / c;
    }
    cum += c;
  }
  return bounds[bounds.length - 1] ?? null;
}

/** Index of the bucket holding `v` (the first bound ≥ v; bounds.length for +Inf). */
export function bucketOf(bounds: readonly number[], v: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function evaluateWindow(targets: SloTargets, total: number, failed: number, latencyCounts: ArrayLike<number>, bounds: readonly number[] = SLO_BOUNDS_MS): SloWindow {
  const good = total - failed;
  const availability = total > 0 ? good / total : null;
  const errorRate = total > 0 ? failed / total : null;
  const budget = errorBudget(targets);
  const burnRate = errorRate === null || budget === null ? null : budget === 0 ? (errorRate > 0 ? Infinity : 0) : errorRate / budget;
  let latencyCount = 0;
  for (let i = 0; i < latencyCounts.length; i++) latencyCount += latencyCounts[i]!;
  const p50Ms = quantileFromBuckets(bounds, latencyCounts, 0.5);
  const p95Ms = quantileFromBuckets(bounds, latencyCounts, 0.95);
  const p99Ms = quantileFromBuckets(bounds, latencyCounts, 0.99);
  const ok =
    (targets.availability === undefined || availability === null || availability >= targets.availability) &&
    (targets.errorRate === undefined || errorRate === null || errorRate <= targets.errorRate) &&
    (targets.p95Ms === undefined || p95Ms === null || p95Ms <= targets.p95Ms) &&
    (targets.p99Ms === undefined || p99Ms === null || p99Ms <= targets.p99Ms);
  return { total, good, failed, availability, errorRate, burnRate, latencyCount, p50Ms, p95Ms, p99Ms, ok };
}

/** The allowed failure fraction: errorRate, else 1 - availability; null without either. */
export function errorBudget(t: SloTargets): number | null {
  if (t.errorRate !== undefined) return t.errorRate;
  if (t.availability !== undefined) return 1 - t.availability;
  return null;
}

/** Outcomes and latencies of one node over the last hour, in 10-second slots. */
export class SloTracker {
  readonly targets: SloTargets;
  readonly #outcomes: SlotRing;
  readonly #latency: SlotRing;

  constructor(targets: SloTargets, clock: Clock) {
    this.targets = targets;
    this.#outcomes = new SlotRing({ slotMs: SLOT_MS, spanMs: WINDOWS_MS['1h'], width: 2, clock });
    this.#latency = new SlotRing({ slotMs: SLOT_MS, spanMs: WINDOWS_MS['1h'], width: SLO_BOUNDS_MS.length + 1, clock });
  }

  /** One event: good (ok) or failed. */
  outcome(ok: boolean): void {
    this.#outcomes.add(TOTAL);
    if (!ok) this.#outcomes.add(FAILED);
  }

  /** One delivery latency, in milliseconds. */
  latency(ms: number): void {
    this.#latency.add(bucketOf(SLO_BOUNDS_MS, ms));
  }

  window(windowMs: number): SloWindow {
    const o = this.#outcomes.sum(windowMs);
    return evaluateWindow(this.targets, o[TOTAL]!, o[FAILED]!, this.#latency.sum(windowMs));
  }

  report(): SloReport {
    const w5 = this.window(WINDOWS_MS['5m']);
    const w1h = this.window(WINDOWS_MS['1h']);
    return {
      targets: targetsReport(this.targets),
      ok: w5.ok,
      windows: { '5m': w5, '1h': w1h },
      burnRate5m: w5.burnRate,
      burnRate1h: w1h.burnRate,
    };
  }
}
