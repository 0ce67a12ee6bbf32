/**
 * Metrics off against metrics on in one invocation (`--metrics-compare`, issue 13's ≤ 5 % goal).
 * Two runs of one bench, one per mode, differ by more than the cost being measured (±10–15 %
 * between rounds on a 2-core machine shared with other work), so the arms are interleaved: round
 * 1 runs off then on, round 2 on then off, and so on (a drift in the machine's load hits both arms
 * alike, and neither always goes first), every measurement in fresh processes. Each arm reports
 * its median over the rounds and the spread; the cost is the difference of the medians, and the
 * per-round cost (on against the off run beside it) is shown with its range as a check on drift.
 */
import { loadavg } from 'node:os';
import { compareObservability } from './meridian.js';
import type { Observability } from './meridian.js';
import { fmt } from './stats.js';

export type ArmName = 'off' | 'on';

export interface Measured<T> {
  readonly arm: ArmName;
  /** 0-based. */
  readonly round: number;
  /** 1-minute load average just before the measurement. */
  readonly load: number;
  readonly value: T;
}

/** `rounds` rounds of both arms, alternating which goes first; `onResult` sees each as it ends. */
export async function interleaved<T>(rounds: number, measure: (o: Observability, arm: ArmName) => Promise<T>, onResult: (m: Measured<T>) => void): Promise<Measured<T>[]> {
  const modes = compareObservability();
  const out: Measured<T>[] = [];
  for (let round = 0; round < rounds; round++) {
    const order: ArmName[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const arm of order) {
      const load = loadavg()[0] ?? NaN;
      const m: Measured<T> = { arm, round, load, value: await measure(modes[arm], arm) };
      out.push(m);
      onResult(m);
    }
  }
  return out;
}

export interface Spread {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Median (the mean of the middle two for an even count), min and max; NaN when empty. */
export function spread(values: readonly number[]): Spread {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  const median = v.length === 0 ? NaN : v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { n: v.length, median, min: v[0] ?? NaN, max: v[v.length - 1] ?? NaN };
}

/** Half the range as a share of the median, in %: the ± the rounds of one arm scatter by. */
export function halfRangePct(s: Spread): number {
  return ((s.max - s.min) / 2 / Math.abs(s.median)) * 100;
}

/** `912,345 (880,120–930,004, ±2.8 %)`. */
export function fmtSpread(s: Spread, digits = 0): string {
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)}, ±${halfRangePct(s).toFixed(1)} %)`;
}

/**
 * What metrics on costs against off, in % of off: positive is worse. `better` says which way is
 * good: `higher` for a throughput (on delivers less), `lower` for a latency or a CPU cost.
 */
export function costPct(off: number, on: number, better: 'higher' | 'lower'): number {
  return ((better === 'higher' ? off - on : on - off) / Math.abs(off)) * 100;
}

/** The cost within each round (on against the off measured beside it), one per round that has both. */
export function pairedCosts<T>(runs: readonly Measured<T>[], value: (t: T) => number, better: 'higher' | 'lower'): number[] {
  const out: number[] = [];
  for (const r of new Set(runs.map((m) => m.round))) {
    const off = runs.find((m) => m.round === r && m.arm === 'off');
    const on = runs.find((m) => m.round === r && m.arm === 'on');
    if (off !== undefined && on !== undefined) out.push(costPct(value(off.value), value(on.value), better));
  }
  return out;
}

/** `+1.8 %` */
export function fmtPct(p: number): string {
  return Number.isFinite(p) ? `${p >= 0 ? '+' : '−'}${Math.abs(p).toFixed(1)} %` : '—';
}

/** The load averages a comparison ran under: before each measurement, and now. */
export function loadNote(runs: readonly Measured<unknown>[]): string {
  const s = spread(runs.map((r) => r.load));
  return `1-min load average ${s.min.toFixed(2)}–${s.max.toFixed(2)} before the measurements, ${(loadavg()[0] ?? NaN).toFixed(2)} at the end (the bench's own processes count in it; on 2 cores, well above what they use means something else ran)`;
}
