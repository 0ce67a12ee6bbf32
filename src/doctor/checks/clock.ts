/**
 * Clock skew: each server's /varz `now` against this machine's clock at the middle of the request
 * (the answer was written somewhere in the round trip, so half the RTT is the uncertainty), then
 * the spread between regions. Skew breaks JWT expiry, KV TTLs and message timestamps.
 */
import { reachable, serverLabel } from '../servers.js';
import type { CheckLine, Snapshot, Verdict } from '../types.js';

export const SKEW_WARN_MS = 500;
export const SKEW_FAIL_MS = 5000;

export function skewVerdict(ms: number): Verdict {
  const a = Math.abs(ms);
  return a > SKEW_FAIL_MS ? 'FAIL' : a > SKEW_WARN_MS ? 'warn' : 'ok';
}

const signed = (ms: number): string => `${ms >= 0 ? '+' : '-'}${Math.abs(ms).toFixed(0)} ms`;

export function checkClocks(s: Snapshot): CheckLine[] {
  const lines: CheckLine[] = [];
  const byRegion = new Map<string, number[]>();
  for (const p of reachable(s)) {
    const now = p.varz?.now === undefined ? Number.NaN : Date.parse(p.varz.now);
    if (p.varzClock === undefined || Number.isNaN(now)) continue;
    const offset = now - p.varzClock.midMs;
    // Only what the round trip cannot explain counts as skew.
    const half = p.varzClock.rttMs / 2;
    const skew = Math.sign(offset) * Math.max(0, Math.abs(offset) - half);
    lines.push({ check: 'clock', subject: serverLabel(p), verdict: skewVerdict(skew), detail: `${signed(offset)} vs this machine (±${half.toFixed(0)} ms)` });
    byRegion.set(p.region, [...(byRegion.get(p.region) ?? []), skew]);
  }
  if (byRegion.size > 1) {
    const mean = [...byRegion].map(([r, xs]) => [r, xs.reduce((a, b) => a + b, 0) / xs.length] as const);
    const lo = mean.reduce((a, b) => (b[1] < a[1] ? b : a));
    const hi = mean.reduce((a, b) => (b[1] > a[1] ? b : a));
    const spread = hi[1] - lo[1];
    const detail = hi[0] === lo[0] ? 'every region agrees with this machine within the round trip' : `${spread.toFixed(0)} ms between ${hi[0]} (ahead) and ${lo[0]}`;
    lines.push({ check: 'clock', subject: 'between regions', verdict: skewVerdict(spread), detail: `${detail} (warn > ${SKEW_WARN_MS} ms, FAIL > ${SKEW_FAIL_MS} ms)` });
  }
  return lines;
}
