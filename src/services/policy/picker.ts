/**
 * Endpoint picking: power of two choices on in-flight requests, respecting weights.
 *
 * Two endpoints are drawn at random in proportion to their weights and the one with fewer
 * in-flight requests per unit of weight wins (Envoy's least-request). Compared with picking the
 * global minimum, P2C needs no scan and does not herd every caller onto the one endpoint that
 * just looked idle; compared with random or round robin, a slow endpoint (whose requests pile
 * up) quickly gets less traffic.
 */

export interface Pickable {
  readonly key: string;
  readonly weight: number;
}

/** Uniform random in [0, 1). */
export type Random = () => number;

/** A small seeded generator (mulberry32) so tests can fix the draws. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function drawWeighted<T extends Pickable>(items: readonly T[], random: Random, skip: number): number {
  let total = 0;
  for (let i = 0; i < items.length; i++) if (i !== skip) total += items[i]!.weight;
  let r = random() * total;
  for (let i = 0; i < items.length; i++) {
    if (i === skip) continue;
    r -= items[i]!.weight;
    if (r < 0) return i;
  }
  // Floating-point leftovers: the last eligible item.
  return items.length - 1 === skip ? items.length - 2 : items.length - 1;
}

/** Pick one of `items` (non-empty) by P2C; `inFlight(key)` is this node's outstanding requests. */
export function pickP2C<T extends Pickable>(items: readonly T[], inFlight: (key: string) => number, random: Random): T {
  if (items.length === 1) return items[0]!;
  const i = drawWeighted(items, random, -1);
  const j = drawWeighted(items, random, i);
  const a = items[i]!;
  const b = items[j]!;
  const la = (inFlight(a.key) + 1) / a.weight;
  const lb = (inFlight(b.key) + 1) / b.weight;
  if (la !== lb) return la < lb ? a : b;
  return random() < 0.5 ? a : b;
}
