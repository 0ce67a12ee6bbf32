/**
 * Which region each NATS server belongs to. A server the doctor reached says so itself (the
 * operator's `region=url` pairing, cross-checked with its cluster name); a server known only by
 * name (a meta group peer that is down) is matched by name: the region itself (as in the test
 * harness) or `<region>-…` (as `meridian plan` names hosts, `us-east-nats-0`).
 */
import type { ServerProbe, Snapshot } from './types.js';

/** The longest topology region that `name` is, or starts with followed by `-`. */
export function regionByName(name: string, regions: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const r of regions) {
    if ((name === r || name.startsWith(`${r}-`)) && (best === undefined || r.length > best.length)) best = r;
  }
  return best;
}

/** Server name → region, for every server any reachable monitor named. */
export function serverRegions(s: Snapshot): Map<string, string> {
  const regions = s.topology.regions.map((r) => r.name);
  const out = new Map<string, string>();
  const note = (name: string | undefined): void => {
    if (name === undefined || name === '' || out.has(name)) return;
    const r = regionByName(name, regions);
    if (r !== undefined) out.set(name, r);
  };
  for (const p of s.servers) {
    const name = p.varz?.server_name;
    if (name !== undefined) out.set(name, p.region);
  }
  for (const p of s.servers) {
    const meta = p.jsz?.meta_cluster;
    note(meta?.leader);
    for (const peer of meta?.replicas ?? []) note(peer.name);
  }
  return out;
}

/** The servers that answered. */
export function reachable(s: Snapshot): ServerProbe[] {
  return s.servers.filter((p) => p.error === undefined && p.varz !== undefined);
}

/** How a server is named in the report: its name, prefixed with its region unless the name says it. */
export function serverLabel(p: ServerProbe): string {
  const name = p.varz?.server_name;
  if (name === undefined || name === '') return `${p.region} (${new URL(p.url).host})`;
  return name === p.region || name.startsWith(`${p.region}-`) ? name : `${p.region}/${name}`;
}
