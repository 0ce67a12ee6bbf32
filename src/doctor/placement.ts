/**
 * Where each Meridian stream and KV bucket must live, as the doctor checks a live super-cluster:
 * the placement module (src/placement) decides it, this file only reads its answer by stream name.
 *
 * Every bucket and stream belongs to one region and must be in that region's cluster: presence,
 * workers, DLQ and audit buckets of a region (`KV_mrd-<kind>-<region>`), the inbox index and
 * cursors of the conversations a region homes (`KV_mrd-inbox-<region>`, `KV_mrd-cursors-<region>`)
 * and its message log (`MRD_LOG_<region>`, `MRD_LOGHEAD_<region>`). Nothing is shared, so nothing
 * lives in "the first region". A `KV_mrd-*` or `MRD_LOG*` stream that no region of the topology
 * owns is reported as a leftover (a removed region, or a bucket an earlier version used, such as
 * the shared `mrd-homes` or `mrd-presence`).
 */
import { everyPlace, isMeridianStream } from '../placement/mod.js';
import type { Topology } from '../topology/mod.js';

export interface ExpectedHome {
  /** The region (NATS cluster) the stream must be in; null when no region of the topology owns it. */
  readonly region: string | null;
  /** The rule, in words, for the report. */
  readonly rule: string;
}


/** Where `stream` must be placed, or undefined when it is not a Meridian stream. */
export function expectedHome(topology: Topology, stream: string): ExpectedHome | undefined {
  const places = everyPlace(topology.regions.map((r) => r.name));
  for (const b of places.buckets) {
    if (`KV_${b.name}` === stream) return { region: b.region, rule: `bucket ${b.name} belongs to ${b.region}` };
  }
  for (const l of places.logs) {
    if (l.stream === stream || l.headStream === stream) return { region: l.region, rule: `${l.region}'s message log lives in ${l.region}` };
  }
  if (!isMeridianStream(stream)) return undefined;
  if (stream.startsWith('KV_')) return { region: null, rule: `bucket ${stream.slice(3)} belongs to no region of the topology` };
  return { region: null, rule: `message log "${stream.replace(/^MRD_LOG(HEAD)?_/, '')}" names no region of the topology` };
}
