/**
 * The SLO targets one region is held to: the topology's `slo:` fields with that region's entry
 * under `slo.regions` laid over them, field by field (a region that sets only `p95Ms` keeps the
 * global availability). Nodes evaluate their own region's targets (src/observability/slo.ts);
 * the edge shows every region's from its copy of the same file (/v1/slo, the dashboard).
 */
import type { SloTargetsDecl, Topology } from './schema.js';

const FIELDS = ['availability', 'p95Ms', 'p99Ms', 'errorRate'] as const;

export function sloTargetsFor(topology: Pick<Topology, 'slo'>, region: string): SloTargetsDecl {
  const { regions, ...global } = topology.slo;
  // hasOwn: region names such as "constructor" are valid, and must not find Object's members.
  const own = regions !== undefined && Object.hasOwn(regions, region) ? regions[region]! : {};
  const out: { -readonly [K in keyof SloTargetsDecl]: SloTargetsDecl[K] } = {};
  for (const f of FIELDS) {
    const v = own[f] ?? global[f];
    if (v !== undefined) out[f] = v;
  }
  return out;
}
