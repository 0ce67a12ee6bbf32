/** Percentiles and number formatting for bench output. */

/** The p-quantile (0..1) of `values` (sorted in place), nearest rank; NaN when empty. */
export function percentile(values: number[], p: number, sorted = false): number {
  if (values.length === 0) return NaN;
  if (!sorted) values.sort((a, b) => a - b);
  const i = Math.min(values.length - 1, Math.max(0, Math.ceil(p * values.length) - 1));
  return values[i] ?? NaN;
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export function summarize(values: number[]): Summary {
  values.sort((a, b) => a - b);
  return { n: values.length, p50: percentile(values, 0.5, true), p90: percentile(values, 0.9, true), p99: percentile(values, 0.99, true), max: values[values.length - 1] ?? NaN };
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '—';
  return digits === 0 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

/** Plain-text table with right-aligned columns except the first. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A difference with its sign: `+0.120`, `-0.030`. */
export function signed(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return '—';
  return `${n >= 0 ? '+' : '-'}${Math.abs(n).toFixed(digits)}`;
}
