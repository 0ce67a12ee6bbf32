/**
 * The doctor's output: an aligned table (`check  subject  verdict  detail`) with a one-line
 * summary, or one JSON document for machines. The exit code is 1 when any line is FAIL.
 */
import type { CheckLine, Verdict } from './types.js';

export interface Summary {
  readonly ok: number;
  readonly warn: number;
  readonly fail: number;
}

export function summarize(lines: readonly CheckLine[]): Summary {
  const n = (v: Verdict): number => lines.filter((l) => l.verdict === v).length;
  return { ok: n('ok'), warn: n('warn'), fail: n('FAIL') };
}

export function exitCode(lines: readonly CheckLine[]): number {
  return lines.some((l) => l.verdict === 'FAIL') ? 1 : 0;
}

export function formatTable(lines: readonly CheckLine[]): string {
  const head: CheckLine = { check: 'check', subject: 'subject', verdict: 'verdict' as Verdict, detail: 'detail' };
  const rows = [head, ...lines];
  const w1 = Math.max(...rows.map((r) => r.check.length));
  const w2 = Math.max(...rows.map((r) => r.subject.length));
  const w3 = Math.max(...rows.map((r) => r.verdict.length));
  const out = rows.map((r) => `${r.check.padEnd(w1)}  ${r.subject.padEnd(w2)}  ${r.verdict.padEnd(w3)}  ${r.detail}`.trimEnd());
  const s = summarize(lines);
  out.push('', `doctor: ${s.ok} ok, ${s.warn} warn, ${s.fail} FAIL${s.fail > 0 ? ' — exit 1' : ''}`);
  return `${out.join('\n')}\n`;
}

export function formatJson(lines: readonly CheckLine[]): string {
  const s = summarize(lines);
  return `${JSON.stringify({ ok: s.fail === 0, summary: s, checks: lines })}\n`;
}
