/** The seeded PRNG of the edge fixtures (mulberry32), with helpers, so fuzz tests replay exactly. */
import { mulberry32 } from '../edge/fixtures.js';

export interface Rng {
  next(): number;
  int(max: number): number;
  pick<T>(items: readonly T[]): T;
}

export function rng(seed: number): Rng {
  const next = mulberry32(seed);
  const int = (max: number): number => Math.floor(next() * max);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      const v = items[int(items.length)];
      if (v === undefined) throw new Error('pick from an empty list');
      return v;
    },
  };
}
