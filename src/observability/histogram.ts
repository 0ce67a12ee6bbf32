/**
 * A Prometheus histogram for the per-message hot path: an observation is a bucket search over
 * a few numbers and two additions, nothing else. The registry (prom-client) still writes the
 * exposition: this object answers `get()` with the same shape as prom-client's `Histogram`
 * (cumulative `_bucket` series with `le`, then `_sum` and `_count`, per label set).
 *
 * Why not prom-client's `Histogram` there: each of its observations validates the labels, builds
 * a hash string from them and finds the bucket by converting the float bound to a property name,
 * even through a `labels()` child. At one to three observations per delivered message that was
 * about a third of what metrics cost a cross-region send (issue 13: metrics may cost ≤ 5 %).
 * Label sets are declared up front (bounded by construction: region names of the topology).
 */
import type { Metric, Registry } from 'prom-client';

interface Series {
  readonly labels: Readonly<Record<string, string>>;
  /** Per-bucket (not cumulative) counts; the last slot is above the highest bound (+Inf). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One label set's series: `observe(seconds)`. */
export interface HistogramSeries {
  observe(value: number): void;
}

export interface FastHistogramOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  /** Upper bounds, ascending (the +Inf bucket is implicit). */
  readonly buckets: readonly number[];
  readonly labelNames?: readonly L[];
  readonly registers?: readonly Registry[];
}

export class FastHistogram<L extends string = never> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: Float64Array;
  readonly #labelNames: readonly string[];
  readonly #series = new Map<string, Series>();

  constructor(o: FastHistogramOptions<L>) {
    this.name = o.name;
    this.help = o.help;
    this.#labelNames = o.labelNames ?? [];
    if (this.#labelNames.includes('le')) throw new Error('le is a reserved label name');
    for (let i = 1; i < o.buckets.length; i++) if (!(o.buckets[i]! > o.buckets[i - 1]!)) throw new Error(`${o.name}: buckets must be ascending`);
    this.#bounds = Float64Array.from(o.buckets);
    // The registry only reads name, help, type and get(): the contract its own metrics follow.
    for (const r of o.registers ?? []) r.registerMetric(this as unknown as Metric);
  }

  /** The series for one label set (values in labelNames order), made on first use. */
  labels(...values: string[]): HistogramSeries {
    if (values.length !== this.#labelNames.length) throw new Error(`${this.name}: expected ${this.#labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    let s = this.#series.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = {};
      this.#labelNames.forEach((n, i) => (labels[n] = values[i]!));
      s = { labels, counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    const series = s;
    const bounds = this.#bounds;
    return {
      observe(value: number): void {
        if (!Number.isFinite(value)) return;
        // Binary search for the first bound ≥ value (Prometheus buckets are inclusive).
        let lo = 0;
        let hi = bounds.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (value <= bounds[mid]!) hi = mid;
          else lo = mid + 1;
        }
        series.counts[lo]! += 1;
        series.sum += value;
        series.count += 1;
      },
    };
  }

  /** Observe in the unlabelled series (a histogram without label names). */
  observe(value: number): void {
    this.#unlabelled ??= this.labels();
    this.#unlabelled.observe(value);
  }
  #unlabelled: HistogramSeries | undefined;

  /** Forget every observation (the label sets stay). */
  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** prom-client's metric shape, read by `Registry.metrics()` and `getMetricsAsJSON()`. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { value: number; labels: Record<string, string | number>; metricName: string }[] }> {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const s of this.#series.values()) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ value: acc, labels: { le, ...s.labels }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: acc + s.counts[this.#bounds.length]!, labels: { le: '+Inf', ...s.labels }, metricName: `${this.name}_bucket` });
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
