/**
 * Every region's storage, read directly (not through Meridian): the files under the data dir
 * (SQLite logs, dead letters, audit) and, on the embedded bus, every retained KV entry with the
 * region holding its bucket; on NATS every message of every stream each region's servers hold
 * (logs and KV buckets alike). `where` names the regions whose storage holds any of some strings.
 */
import { REGIONS } from '../e2e/deployments.js';
import type { E2eDeployment, Region } from '../e2e/deployments.js';
import { scanFiles, scanStreams } from '../erasure/storage-scan.js';
import type { Snapshot } from '../erasure/storage-scan.js';

export type { Snapshot };

/** Read the storage of `regions` (default all; a stopped NATS server cannot be read: leave its region out). */
export async function scanStorage(d: E2eDeployment, regions: readonly Region[] = REGIONS): Promise<Snapshot> {
  const s = scanFiles(d.inner.dataDir);
  for (const r of REGIONS) if (!regions.includes(r)) s[r] = [];
  const network = d.inner.network;
  if (network !== undefined) {
    for (const e of network.storedEntries()) {
      const r = e.region as Region;
      if (regions.includes(r)) s[r].push({ where: `kv ${e.bucket} ${e.key}`, text: `${e.key}\n${Buffer.from(e.value).toString('latin1')}` });
    }
  }
  if (d.natsUrls !== undefined) {
    const streams = await scanStreams(d.natsUrls, regions);
    for (const r of regions) s[r].push(...streams[r]);
  }
  return s;
}

/** The regions (in topology order) whose storage holds any of `needles`. */
export function where(s: Snapshot, needles: readonly string[]): Region[] {
  return REGIONS.filter((r) => s[r].some((b) => needles.some((n) => b.text.includes(n))));
}
