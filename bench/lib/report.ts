/**
 * What a bench hands to the runner: the targets it checked, each with the measured value, the
 * baseline measured in the same run and whether the target holds. A bench prints its own detail
 * table; with `--json <file>` it also writes its checks there for `bench/run.ts` to summarise.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export interface Check {
  readonly bench: string;
  /** What is compared, e.g. "edge req/s vs haproxy". */
  readonly what: string;
  /** Measured, human-readable (e.g. "0.71× (9,120 vs 12,800 req/s)"). */
  readonly measured: string;
  /** The target, human-readable (e.g. "≥ 0.6×"). */
  readonly target: string;
  /** null: not measured (the side under test does not exist yet, or a side failed). */
  readonly met: boolean | null;
}

export interface BenchReport {
  readonly bench: string;
  readonly checks: Check[];
  /** The detail table as printed. */
  readonly detail: string;
  readonly notes: string[];
  /** 1/5/15-minute load averages when the bench ended (2 cores: above 2 means others ran too). */
  readonly load?: readonly number[];
}

export function ratioCheck(bench: string, what: string, value: number, baseline: number, min: number, unit: string): Check {
  const r = value / baseline;
  const ok = Number.isFinite(r);
  return { bench, what, measured: ok ? `${r.toFixed(2)}× (${Math.round(value).toLocaleString('en-US')} vs ${Math.round(baseline).toLocaleString('en-US')} ${unit})` : 'not measured', target: `≥ ${min}×`, met: ok ? r >= min : null };
}

export function maxCheck(bench: string, what: string, value: number, max: number, unit: string, digits = 2): Check {
  const ok = Number.isFinite(value);
  return { bench, what, measured: ok ? `${value.toFixed(digits)} ${unit}` : 'not measured', target: `≤ ${max} ${unit}`, met: ok ? value <= max : null };
}

export function missing(bench: string, what: string, target: string, why: string): Check {
  return { bench, what, measured: `not measured: ${why}`, target, met: null };
}

/** Print the report and write it to `--json <file>` when given. */
export function emit(r: BenchReport, jsonFile: string | undefined): void {
  const report: BenchReport = { ...r, load: loadavg().map((l) => Math.round(l * 100) / 100) };
  console.log(`\n== ${report.bench} (load average at the end: ${report.load?.join(' ')})\n${report.detail}`);
  for (const n of report.notes) console.log(`  note: ${n}`);
  for (const c of report.checks) console.log(`  ${c.met === null ? '  ?' : c.met ? ' ok' : 'MISS'}  ${c.what}: ${c.measured} (target ${c.target})`);
  if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(report));
}
