// docs/observability.md lists what the code emits, no more and no less: every log event written
// in src/ is a row of the Logs table (and every row is written somewhere), every metric
// registered in src/observability/metrics.ts is a row of the Metrics tables (and back).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const doc = readFileSync(join(ROOT, 'docs', 'observability.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The text of `## title` up to the next `## ` heading. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  expect(start, `section ${title}`).toBeGreaterThan(-1);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** The backquoted names in the first column of the section's table rows that match `name`. */
function firstColumn(text: string, name: RegExp): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cell = line.split('|')[1] ?? '';
    for (const m of cell.matchAll(/`([^`]+)`/g)) if (name.test(m[1]!)) out.add(m[1]!);
  }
  return out;
}

const sorted = (s: Iterable<string>): string[] => [...s].sort();

describe('docs/observability.md', () => {
  it('the Logs table has a row for every log event in src/, and no other', () => {
    const inCode = new Set<string>();
    // `log.warn({ event: 'x', …` and `log[level]({ event: cond ? 'a' : 'b', …`
    const call = /(?:\.(?:trace|debug|info|warn|error|fatal)|\])\(\s*\{\s*event: ([^,]+),/g;
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(call)) for (const lit of m[1]!.matchAll(/'([a-z_]+)'/g)) inCode.add(lit[1]!);
    }
    expect(inCode.size).toBeGreaterThan(20);
    expect(inCode).toContain('region_down');
    expect(sorted(firstColumn(section('Logs'), /^[a-z_]+$/))).toEqual(sorted(inCode));
  });

  it('the Metrics tables have a row for every metric registered, and no other', () => {
    const src = readFileSync(join(ROOT, 'src', 'observability', 'metrics.ts'), 'utf8');
    const inCode = new Set([...src.matchAll(/name: '(meridian_[a-z0-9_]+)'/g)].map((m) => m[1]!));
    expect(inCode.size).toBeGreaterThan(40);
    expect(sorted(firstColumn(section('Metrics'), /^meridian_[a-z0-9_]+$/))).toEqual(sorted(inCode));
  });
});
