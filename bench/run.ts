/**
 * `npm run bench`: every bench, one after the other, each in its own process (so one bench's
 * leftovers cannot slow the next), then one summary table of the targets. Never part of
 * `npm test` or CI: the numbers depend on the machine and on whatever else runs on it.
 *
 *   npm run bench [-- --only fanout,edge-proxy] [-- --out results.json]
 * Each bench also runs alone, `npx tsx bench/<name>.ts`; its header comment lists its options.
 * `fanout-metrics` and `cross-region-metrics` are the fan-out and cross-region benches with
 * `--metrics-compare` (what metrics and tracing cost, issue 13).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine } from './lib/machine.js';
import type { BenchReport } from './lib/report.js';
import { table } from './lib/stats.js';

// services-proxy.ts belongs to the services work; it is run when present.
const BENCHES = ['edge-proxy', 'services-proxy', 'fanout', 'fanout-metrics', 'idle-connections', 'cross-region', 'cross-region-metrics', 'home-latency', 'rolling-drain', 'region-loss'] as const;
type BenchName = (typeof BENCHES)[number];
/** Benches that are another bench's file with options (by default a bench is `<name>.ts`, no options). */
const VARIANTS: Partial<Record<BenchName, { readonly file: string; readonly args: readonly string[] }>> = {
  'fanout-metrics': { file: 'fanout', args: ['--metrics-compare'] },
  'cross-region-metrics': { file: 'cross-region', args: ['--metrics-compare'] },
};
/** A bench that runs longer than this is stopped and reported as failed. */
const BENCH_TIMEOUT_MS = 240_000;
/**
 * Benches that need longer (region-loss: a fresh deployment per lost region, on both buses; the
 * metrics comparisons: 2 × 5 measurements, fresh processes each).
 */
const TIMEOUT_MS: Partial<Record<BenchName, number>> = { 'region-loss': 1_800_000, 'fanout-metrics': 600_000, 'cross-region-metrics': 600_000 };

const { values } = parseArgs({ options: { only: { type: 'string' }, out: { type: 'string' }, markdown: { type: 'string' } } });
const only = values.only?.split(',').map((s) => s.trim());
const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-'));
const reports: BenchReport[] = [];
const failures: string[] = [];
const started = Date.now();
const env = { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/sbin` };
console.log(`machine: ${machine()}`);

try {
  for (const name of BENCHES) {
    if (only && !only.includes(name)) continue;
    const variant = VARIANTS[name];
    const file = fileURLToPath(new URL(`./${variant?.file ?? name}.ts`, import.meta.url));
    if (!existsSync(file)) continue;
    const json = join(dir, `${name}.json`);
    if (variant !== undefined) console.log(`\n== ${name}: bench/${variant.file}.ts ${variant.args.join(' ')}`);
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...(variant?.args ?? []), '--json', json], { stdio: 'inherit', env });
    // SIGTERM first, so a bench can stop what it started (nats-servers); SIGKILL if it does not exit.
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    }, TIMEOUT_MS[name] ?? BENCH_TIMEOUT_MS);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    clearTimeout(killer);
    try {
      reports.push(JSON.parse(readFileSync(json, 'utf8')) as BenchReport);
    } catch {
      failures.push(`${name} (exit ${code})`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const rows = reports.flatMap((r) => r.checks.map((c) => [c.met === null ? '?' : c.met ? 'met' : 'MISSED', c.bench, c.what, c.measured, c.target]));
console.log(`\n== summary (${((Date.now() - started) / 1000).toFixed(0)} s; ${machine()})`);
console.log(table(['', 'bench', 'what', 'measured', 'target'], rows));
for (const f of failures) console.log(`FAILED: ${f}`);
if (values.out !== undefined) writeFileSync(values.out, JSON.stringify({ machine: machine(), at: new Date().toISOString(), reports, failures }, null, 2));
if (values.markdown !== undefined) writeFileSync(values.markdown, markdown());

/** The summary and every detail table, ready to paste into docs/performance.md. */
function markdown(): string {
  const cell = (t: string): string => t.replace(/\|/g, '\\|');
  const out = [`Run of ${new Date().toISOString()}; ${machine()}`, '', '| | bench | what | measured | target |', '|---|---|---|---|---|'];
  for (const r of rows) out.push(`| ${r.map(cell).join(' | ')} |`);
  for (const r of reports) out.push('', `### ${r.bench} (load average at the end: ${r.load?.join(' ') ?? '?'})`, '', '```', r.detail, '```');
  return `${out.join('\n')}\n`;
}
process.exitCode = failures.length > 0 ? 1 : 0;
