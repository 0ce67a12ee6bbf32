/**
 * Endpoint ordering: the asking region's endpoints first, then other regions by RTT from it,
 * the way NATS queue groups and Consul prepared queries fail over (nearest first). Within a
 * region the order is stable (worker id) so callers can group by region without sorting again;
 * which endpoint in a region gets a request is the picker's business (policy/picker.ts).
 */
import type { Endpoint, FunctionInstance, RttSource, ServiceSummary, WorkerView } from './types.js';

function rttFrom(fromRegion: string, rtt: RttSource): (region: string) => number {
  const rttOf = new Map<string, number>();
  return (region) => {
    let v = rttOf.get(region);
    if (v === undefined) {
      try {
        v = region === fromRegion ? 0 : rtt(fromRegion, region);
      } catch {
        v = Number.POSITIVE_INFINITY;
      }
      if (!Number.isFinite(v) || v < 0) v = Number.POSITIVE_INFINITY;
      rttOf.set(region, v);
    }
    return v;
  };
}

/** Instances of a function, in the same order as endpoints (local region first, then by RTT). */
export function orderFunctionInstances(workers: readonly WorkerView[], fn: string, fromRegion: string, rtt: RttSource, panic: boolean): FunctionInstance[] {
  const rttTo = rttFrom(fromRegion, rtt);
  const out: FunctionInstance[] = [];
  for (const w of workers) {
    if (w.health === 'stale' && !panic) continue;
    if (!w.record.functions.includes(fn)) continue;
    out.push({
      key: `${w.record.id}|fn:${fn}`,
      function: fn,
      workerId: w.record.id,
      region: w.record.region,
      url: w.record.functionUrls?.[fn],
      weight: 1,
      reportedInFlight: w.record.load.inFlight,
      rttMs: rttTo(w.record.region),
      stale: w.health === 'stale',
    });
  }
  const rank = (e: FunctionInstance): number => (e.region === fromRegion ? -1 : e.rttMs);
  return out.sort((a, b) => rank(a) - rank(b) || a.region.localeCompare(b.region) || a.workerId.localeCompare(b.workerId));
}

export function orderEndpoints(workers: readonly WorkerView[], service: string, fromRegion: string, rtt: RttSource, panic: boolean): Endpoint[] {
  const out: Endpoint[] = [];
  const rttOf = new Map<string, number>();
  const rttTo = (region: string): number => {
    let v = rttOf.get(region);
    if (v === undefined) {
      // An RTT source that does not know a region must not break the listing: put it last.
      try {
        v = region === fromRegion ? 0 : rtt(fromRegion, region);
      } catch {
        v = Number.POSITIVE_INFINITY;
      }
      if (!Number.isFinite(v) || v < 0) v = Number.POSITIVE_INFINITY;
      rttOf.set(region, v);
    }
    return v;
  };
  for (const w of workers) {
    if (w.health === 'stale' && !panic) continue;
    for (const s of w.record.services) {
      if (s.name !== service) continue;
      out.push({
        key: `${w.record.id}|${s.url}`,
        service,
        workerId: w.record.id,
        region: w.record.region,
        url: s.url,
        weight: s.weight,
        meta: s.meta,
        reportedInFlight: w.record.load.inFlight,
        rttMs: rttTo(w.record.region),
        stale: w.health === 'stale',
      });
    }
  }
  const rank = (e: Endpoint): number => (e.region === fromRegion ? -1 : e.rttMs);
  return out.sort((a, b) => rank(a) - rank(b) || a.region.localeCompare(b.region) || a.workerId.localeCompare(b.workerId));
}

/** Every service of the view, by name: endpoints, healthy ones, and the regions they run in. */
export function summariseServices(workers: readonly WorkerView[]): ServiceSummary[] {
  const by = new Map<string, { endpoints: number; healthy: number; regions: Set<string> }>();
  for (const w of workers) {
    for (const s of w.record.services) {
      const e = by.get(s.name) ?? { endpoints: 0, healthy: 0, regions: new Set<string>() };
      e.endpoints++;
      if (w.health === 'healthy') e.healthy++;
      e.regions.add(w.record.region);
      by.set(s.name, e);
    }
  }
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([name, e]) => ({ name, endpoints: e.endpoints, healthy: e.healthy, regions: [...e.regions].sort() }));
}
