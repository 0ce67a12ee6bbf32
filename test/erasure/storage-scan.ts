/**
 * Reads every region's storage directly, not through Meridian: the bytes of every file under the
 * data dir (SQLite databases with their -wal and -shm files: message logs, dead letters, audit),
 * or every message (subject, headers, payload) of every JetStream stream held by each region's
 * server (logs and every KV bucket). `find` answers, per region, whether a marker occurs anywhere.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Region } from '../e2e/deployments.js';
import { REGIONS } from '../e2e/deployments.js';

/** What each region stores, as text blobs labelled by where they came from. */
export type Snapshot = Record<Region, { where: string; text: string }[]>;

function files(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/** Embedded: every file under `<dataDir>/<region>/`, as latin1 text (markers are ASCII). */
export function scanFiles(dataDir: string): Snapshot {
  const out = {} as Snapshot;
  for (const r of REGIONS) out[r] = files(join(dataDir, r)).map((f) => ({ where: relative(dataDir, f), text: readFileSync(f).toString('latin1') }));
  return out;
}

/** NATS: every message of every stream placed in each region's cluster (of `regions`, default all), read from that region's server. */
export async function scanStreams(urls: Readonly<Record<Region, string>>, regions: readonly Region[] = REGIONS): Promise<Snapshot> {
  const out = { 'us-east': [], 'eu-west': [], 'ap-southeast': [] } as Snapshot;
  for (const r of regions) {
    out[r] = [];
    const nc = await connect({ servers: urls[r], name: `scan-${r}` });
    try {
      const jsm = await jetstreamManager(nc);
      for await (const info of jsm.streams.list()) {
        if (info.cluster?.name !== undefined && info.cluster.name !== r) continue;
        const { first_seq: first, last_seq: last } = info.state;
        for (let seq = first; seq <= last && info.state.messages > 0; seq++) {
          const m = await jsm.streams.getMessage(info.config.name, { seq }).catch(() => null);
          if (m === null) continue;
          const headers = m.header ? [...m.header.keys()].map((k) => `${k}: ${m.header.get(k)}`).join('\n') : '';
          out[r].push({ where: `${info.config.name}#${seq} ${m.subject}`, text: `${m.subject}\n${headers}\n${Buffer.from(m.data).toString('latin1')}` });
        }
      }
    } finally {
      await nc.close();
    }
  }
  return out;
}

/** Where `marker` occurs, per region (empty lists: nowhere). */
export function find(s: Snapshot, marker: string): Record<Region, string[]> {
  const out = {} as Record<Region, string[]>;
  for (const r of REGIONS) out[r] = s[r].filter((b) => b.text.includes(marker)).map((b) => b.where);
  return out;
}
