// Shared fixtures for the edge tests: the two example topologies, state builders and a tiny
// seeded PRNG (mulberry32) so property tests are reproducible without a dependency.
import { readFileSync } from 'node:fs';
import { defaultTopology, parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import type { RegionState } from '../../src/edge/policy/mod.js';

export const three: Topology = defaultTopology();
export const five: Topology = parseTopology(readFileSync(new URL('../../examples/five-regions.yaml', import.meta.url), 'utf8'), 'five-regions.yaml');

export const idle: RegionState = { healthy: true, connections: 0, rps: 0 };
export const down: RegionState = { healthy: false, connections: 0, rps: 0 };
/** At the connection cap of `region` in `t`. */
export function full(t: Topology, region: string): RegionState {
  const r = t.regions.find((x) => x.name === region);
  if (!r) throw new Error(`no region ${region}`);
  return { healthy: true, connections: r.capacity.connections, rps: 0 };
}

/** Every region idle, with overrides. */
export function states(t: Topology, overrides: Record<string, RegionState> = {}): Record<string, RegionState> {
  return Object.fromEntries(t.regions.map((r) => [r.name, overrides[r.name] ?? idle]));
}

/** Places used across tests. */
export const at = {
  ashburn: { lat: 39.04, lon: -77.49 },
  portland: { lat: 45.52, lon: -122.68 },
  berlin: { lat: 52.52, lon: 13.4 },
  london: { lat: 51.51, lon: -0.13 },
  singapore: { lat: 1.29, lon: 103.85 },
  tokyo: { lat: 35.68, lon: 139.69 },
  saoPaulo: { lat: -23.55, lon: -46.63 },
  midAtlantic: { lat: 47, lon: -42 },
} as const;

export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pickOne<T>(rng: Rng, xs: readonly T[]): T {
  const x = xs[Math.floor(rng() * xs.length)];
  if (x === undefined) throw new Error('pickOne of an empty list');
  return x;
}
