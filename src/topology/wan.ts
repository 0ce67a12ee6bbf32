/**
 * One-way link latency between regions as the topology describes it: an explicit `wan.links`
 * entry wins, otherwise great-circle distance times `wan.msPer100Km`. The embedded bus uses it to
 * simulate the WAN; steering uses it as the latency estimate until measurements exist.
 */
import { greatCircleKm } from './geo.js';
import type { Topology } from './schema.js';

export function linkLatencyMs(t: Topology, a: string, b: string): number {
  if (a === b) return 0;
  for (const l of t.wan.links) {
    if ((l.between[0] === a && l.between[1] === b) || (l.between[0] === b && l.between[1] === a)) return l.oneWayMs;
  }
  const ra = t.regions.find((r) => r.name === a);
  const rb = t.regions.find((r) => r.name === b);
  if (!ra || !rb) throw new RangeError(`unknown region ${ra ? b : a}`);
  return (greatCircleKm(ra.location, rb.location) / 100) * t.wan.msPer100Km;
}
