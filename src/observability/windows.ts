/**
 * Rolling windows of counts, in fixed time slots on a ring: the 1-minute rates of `/stats` and
 * the 5-minute / 1-hour windows of the SLO evaluation. Adding is O(1) and allocation-free; a sum
 * over a window walks the ring once. The clock is injected so the maths is testable by table.
 *
 * A window of W ms with S ms slots covers the current (partial) slot and the W/S - 1 before it,
 * so "the last 5 minutes" means between 5 min - S and 5 min: precise to one slot.
 */

export type Clock = () => number;

/** A ring of slots, each holding `width` numbers (a counter, or one count per bucket). */
export class SlotRing {
  readonly slotMs: number;
  readonly slots: number;
  readonly width: number;
  readonly #ids: Float64Array;
  readonly #data: Float64Array;
  readonly #clock: Clock;

  constructor(opts: { slotMs: number; spanMs: number; width?: number; clock: Clock }) {
    this.slotMs = opts.slotMs;
    this.slots = Math.max(1, Math.ceil(opts.spanMs / opts.slotMs));
    this.width = opts.width ?? 1;
    this.#ids = new Float64Array(this.slots).fill(-1);
    this.#data = new Float64Array(this.slots * this.width);
    this.#clock = opts.clock;
  }

  /** Add `n` to column `col` of the current slot. */
  add(col: number, n = 1): void {
    const id = Math.floor(this.#clock() / this.slotMs);
    const i = id % this.slots;
    if (this.#ids[i] !== id) {
      this.#ids[i] = id;
      this.#data.fill(0, i * this.width, (i + 1) * this.width);
    }
    this.#data[i * this.width + col]! += n;
  }

  /** Per-column sums over the last `windowMs` (at most the ring's span). */
  sum(windowMs: number): Float64Array {
    const out = new Float64Array(this.width);
    const now = Math.floor(this.#clock() / this.slotMs);
    const n = Math.min(this.slots, Math.max(1, Math.ceil(windowMs / this.slotMs)));
    for (let i = 0; i < this.slots; i++) {
      const id = this.#ids[i]!;
      if (id < 0 || id > now || id <= now - n) continue;
      const base = i * this.width;
      for (let c = 0; c < this.width; c++) out[c]! += this.#data[base + c]!;
    }
    return out;
  }
}

/** Events per second over the last minute, or `windowMs` (1-second slots). */
export class RateWindow {
  readonly #ring: SlotRing;
  readonly #windowMs: number;

  constructor(clock: Clock, windowMs = 60_000) {
    this.#windowMs = windowMs;
    this.#ring = new SlotRing({ slotMs: 1000, spanMs: windowMs, clock });
  }

  add(n = 1): void {
    this.#ring.add(0, n);
  }

  /** Count in the window. */
  count(): number {
    return this.#ring.sum(this.#windowMs)[0]!;
  }

  /** Events per second averaged over the window. */
  perSec(): number {
    return this.count() / (this.#windowMs / 1000);
  }
}

/** One `RateWindow` per key, for a bounded set of keys (regions, reasons). */
export class KeyedRates {
  readonly #clock: Clock;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #rates = new Map<string, RateWindow>();

  constructor(clock: Clock, max = 64, windowMs = 60_000) {
    this.#clock = clock;
    this.#max = max;
    this.#windowMs = windowMs;
  }

  add(key: string, n = 1): void {
    let r = this.#rates.get(key);
    if (r === undefined) {
      if (this.#rates.size >= this.#max) return;
      r = new RateWindow(this.#clock, this.#windowMs);
      this.#rates.set(key, r);
    }
    r.add(n);
  }

  perSec(key: string): number {
    return this.#rates.get(key)?.perSec() ?? 0;
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, r] of this.#rates) out[k] = r.count();
    return out;
  }

  rates(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, r] of this.#rates) out[k] = r.perSec();
    return out;
  }
}
