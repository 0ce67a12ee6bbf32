/**
 * The deployments a fault schedule runs against: three regions of messaging over their logs, on
 * the embedded network (kill = the region's bus dies, cut = one link) or on a real NATS
 * super-cluster (kill = the region's nats-server stopped with SIGKILL and started again on the
 * same store, cut = the harness's proxy on that gateway link refuses traffic).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { NatsBus } from '../../src/bus/nats/mod.js';
import { openNatsLog, openSqliteLog } from '../../src/log/mod.js';
import type { MessageLog } from '../../src/log/mod.js';
import { createMessaging } from '../../src/messaging/mod.js';
import type { Messaging } from '../../src/messaging/mod.js';
import { placed } from '../../src/placement/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import { CHAOS_TOPOLOGY } from './schedule.js';
import type { ChaosDeployment } from './schedule.js';

const REGIONS = CHAOS_TOPOLOGY.regions.map((r) => r.name);

export async function embeddedChaos(): Promise<ChaosDeployment> {
  const dir = mkdtempSync(join(tmpdir(), 'mrd-chaos-'));
  const network = new EmbeddedNetwork(CHAOS_TOPOLOGY.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })), { latencyMs: (a, b) => (a === b ? 0 : 20) });
  const logs = new Map<string, MessageLog>();
  const ms = new Map<string, Messaging>();
  for (const region of REGIONS) {
    const log = openSqliteLog({ path: join(dir, `${region}.db`) });
    logs.set(region, log);
    ms.set(region, await createMessaging({ bus: network.connect(region), region, topology: CHAOS_TOPOLOGY, log, rpcTimeoutMs: 1500 }));
  }
  return {
    regions: REGIONS,
    messaging: (r) => ms.get(r)!,
    log: (r) => logs.get(r)!,
    kill: (r) => Promise.resolve(network.kill(r)),
    revive: (r) => Promise.resolve(network.revive(r)),
    cut: (a, b) => Promise.resolve(network.cut(a, b)),
    restore: (a, b) => Promise.resolve(network.restore(a, b)),
    async close() {
      await Promise.all([...ms.values()].map((m) => m.close()));
      await Promise.all([...logs.values()].map((l) => l.close()));
      await network.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function natsChaos(): Promise<ChaosDeployment> {
  const sc = await startSuperCluster({ regions: REGIONS, latencyMs: 20 });
  const buses: NatsBus[] = [];
  const logs = new Map<string, MessageLog>();
  const ms = new Map<string, Messaging>();
  try {
    for (const region of REGIONS) {
      const bus = await connectNatsBus({ region, servers: [sc.url(region)], requestTimeoutMs: 1500 });
      buses.push(bus);
      const log = await openNatsLog({ nc: bus.nc, name: placed.log(region).name, home: region, timeoutMs: 1500 });
      logs.set(region, log);
      ms.set(region, await createMessaging({ bus, region, topology: CHAOS_TOPOLOGY, log, rpcTimeoutMs: 1500 }));
    }
  } catch (err) {
    await sc.close();
    throw err;
  }
  return {
    regions: REGIONS,
    messaging: (r) => ms.get(r)!,
    log: (r) => logs.get(r)!,
    kill: (r) => sc.stop(r, { kill: true }),
    revive: (r) => sc.start(r),
    cut: (a, b) => Promise.resolve(sc.cut(a, b)),
    restore: (a, b) => Promise.resolve(sc.restore(a, b)),
    async close() {
      await Promise.all([...ms.values()].map((m) => m.close()));
      await Promise.all([...logs.values()].map((l) => l.close().catch(() => undefined)));
      await Promise.all(buses.map((b) => b.close()));
      await sc.close();
    },
  };
}
