/**
 * Function routing strategies, as an order of instances handed to the call policy (which takes
 * the first eligible tier, skipping open breakers, ejected and already-tried instances):
 * - `geographic`: the registry's order, this region first, then by RTT; tiers are regions, so
 *   P2C spreads load inside the nearest region with a healthy instance;
 * - `round-robin`: every healthy instance in every region, rotated one step per request; each
 *   instance is its own tier, so a failed attempt moves to the next in the rotation;
 * - `affinity`: rendezvous (highest-random-weight) hashing of the key over the instances' worker
 *   ids: one key always lands on the same instance, from any region, and when that instance
 *   dies only its keys move (each to its own next-highest instance). Without a key: geographic.
 */
import type { FunctionInstance } from '../registry/mod.js';
import type { PolicyEndpoint } from '../policy/mod.js';

export type RoutingStrategy = 'geographic' | 'round-robin' | 'affinity';

export interface RoutedInstance extends PolicyEndpoint {
  readonly key: string;
  /** The preference tier for the policy: a region (geographic) or a position (the others). */
  readonly region: string;
  readonly weight: number;
  readonly instance: FunctionInstance;
}

const asTier = (i: FunctionInstance, tier: string): RoutedInstance => ({ key: i.key, region: tier, weight: i.weight, instance: i });

export function geographic(instances: readonly FunctionInstance[]): RoutedInstance[] {
  return instances.map((i) => asTier(i, i.region));
}

export function roundRobin(instances: readonly FunctionInstance[], turn: number): RoutedInstance[] {
  const n = instances.length;
  if (n === 0) return [];
  // A stable base order (not the caller's RTT order): every node rotates through the same ring.
  const base = [...instances].sort((a, b) => a.key.localeCompare(b.key));
  const start = ((turn % n) + n) % n;
  return base.map((_, k) => base[(start + k) % n]!).map((i, k) => asTier(i, `#${k}`));
}

/** 32-bit FNV-1a with a murmur3 finaliser: cheap, and well spread for rendezvous scores. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function affinity(instances: readonly FunctionInstance[], key: string): RoutedInstance[] {
  return instances
    .map((i) => ({ i, score: hash32(`${key}\u0000${i.workerId}`) }))
    .sort((a, b) => b.score - a.score || a.i.workerId.localeCompare(b.i.workerId))
    .map(({ i }, k) => asTier(i, `#${k}`));
}
