/**
 * Reading a histogram out of Prometheus text exposition (a node's `/metrics`): its cumulative
 * bucket counts summed over every series, the difference between two scrapes, and a quantile
 * of that difference (the bucket it falls in, and a linear estimate inside the bucket).
 */

/** Cumulative count per upper bound (`le`, seconds; `+Inf` as Infinity) of histogram `name`, summed over its series. */
export function histogramBuckets(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le === undefined || !Number.isFinite(value)) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + value);
  }
  return out;
}

/** Sum of several scrapes' buckets (one per node). */
export function addBuckets(all: readonly Map<number, number>[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of all) for (const [le, n] of m) out.set(le, (out.get(le) ?? 0) + n);
  return out;
}

/** `after − before`, bucket by bucket (what was observed between two scrapes). */
export function bucketsDelta(before: Map<number, number>, after: Map<number, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, n] of after) out.set(le, n - (before.get(le) ?? 0));
  return out;
}

export interface BucketQuantile {
  /** Observations counted. */
  readonly count: number;
  /** Upper bound of the bucket holding the quantile (seconds; Infinity past the last bound). */
  readonly upper: number;
  /** Linear interpolation inside that bucket (seconds), as Prometheus' histogram_quantile does. */
  readonly estimate: number;
}

/** The q-quantile (0..1) of cumulative buckets; NaNs when nothing was observed. */
export function bucketQuantile(buckets: Map<number, number>, q: number): BucketQuantile {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const count = buckets.get(Infinity) ?? (bounds.length > 0 ? (buckets.get(bounds[bounds.length - 1]!) ?? 0) : 0);
  if (count <= 0) return { count: 0, upper: NaN, estimate: NaN };
  const rank = q * count;
  let prevBound = 0;
  let prevCount = 0;
  for (const le of bounds) {
    const c = buckets.get(le) ?? 0;
    if (c >= rank) {
      if (le === Infinity) return { count, upper: Infinity, estimate: prevBound };
      const share = c === prevCount ? 1 : (rank - prevCount) / (c - prevCount);
      return { count, upper: le, estimate: prevBound + (le - prevBound) * share };
    }
    prevBound = le;
    prevCount = c;
  }
  return { count, upper: Infinity, estimate: prevBound };
}
