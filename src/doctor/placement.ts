/**
 * Where each Meridian stream and KV bucket must live: the placement rule the doctor checks a
 * live super-cluster against, in one function so it can follow the code when placement grows
 * (a residency-aware placement module would replace the body, the check stays as it is).
 *
 * Today's rule, as the runtime places things:
 * - KV buckets `mrd-*` (stream `KV_mrd-*`): homed in the topology's first region, for the whole
 *   deployment (src/runtime/region.ts passes `bucketRegion: regions[0]` to messaging and presence;
 *   the services registry uses `home: regions[0]`);
 * - the DLQ bucket `mrd-dlq-<region>`: in that region (src/services/dlq/kv.ts); the audit bucket
 *   `mrd-audit-<region>` likewise (src/audit/kv.ts);
 * - a region's message log, streams `MRD_LOG_<region>` and `MRD_LOGHEAD_<region>`: in that region
 *   (src/runtime/region.ts opens the log with `home: region`; src/log/nats-store.ts places it).
 * Residency rules do not move any of these yet: no stream holds data of a residency-bound region
 * outside that region except the shared buckets, which hold ids and pointers, not message bodies.
 */
import type { Topology } from '../topology/mod.js';

export interface ExpectedHome {
  /** The region (NATS cluster) the stream must be in; null when its name points to no topology region. */
  readonly region: string | null;
  /** The rule, in words, for the report. */
  readonly rule: string;
}

const KV_PREFIX = 'KV_mrd-';
const LOG = /^MRD_LOG(HEAD)?_(.+)$/;

/** The runtime's log name for a region (src/runtime/region.ts `logName`). */
function logName(region: string): string {
  return region.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32);
}

/** Where `stream` must be placed, or undefined when it is not a Meridian stream. */
export function expectedHome(topology: Topology, stream: string): ExpectedHome | undefined {
  const first = topology.regions[0]?.name ?? null;
  for (const [kind, what] of [['dlq', 'DLQ'], ['audit', 'audit']] as const) {
    if (!stream.startsWith(`${KV_PREFIX}${kind}-`)) continue;
    const region = stream.slice(`${KV_PREFIX}${kind}-`.length);
    return topology.regions.some((r) => r.name === region)
      ? { region, rule: `the ${what} bucket of ${region} lives in ${region}` }
      : { region: null, rule: `${what} bucket of "${region}", which is not a region of the topology` };
  }
  if (stream.startsWith(KV_PREFIX)) return { region: first, rule: `shared buckets (mrd-*) live in the topology's first region${first === null ? '' : ` (${first})`}` };
  const m = LOG.exec(stream);
  if (m !== null) {
    const log = m[2]!;
    const region = topology.regions.find((r) => logName(r.name) === log)?.name ?? null;
    return { region, rule: region === null ? `message log "${log}" names no region of the topology` : `${region}'s message log lives in ${region}` };
  }
  return undefined;
}
