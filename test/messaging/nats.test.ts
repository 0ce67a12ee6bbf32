/**
 * Messaging on a real three-region NATS super-cluster: a NatsBus per region, each region's log a
 * JetStream stream placed in its own cluster, gateways through latency proxies (8–30 ms one way).
 * "Killing" a region stops its nats-server; reviving restarts it with its JetStream store.
 */
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { NatsBus } from '../../src/bus/nats/mod.js';
import { openNatsLog } from '../../src/log/mod.js';
import type { MessageLog } from '../../src/log/mod.js';
import { createMessaging } from '../../src/messaging/mod.js';
import type { Messaging } from '../../src/messaging/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { REGIONS, describeWithNats, latencyMs } from '../bus/nats-env.js';
import { runFailoverConformance, runMessagingConformance } from './suite.js';
import type { Deployment } from './suite.js';


async function deploy(topology: Topology): Promise<Deployment> {
  const sc = await startSuperCluster({ regions: REGIONS, latencyMs });
  const buses: NatsBus[] = [];
  const logs: MessageLog[] = [];
  const ms = new Map<string, Messaging>();
  try {
    for (const region of REGIONS) {
      const bus = await connectNatsBus({ region, servers: [sc.url(region)], requestTimeoutMs: 3000 });
      buses.push(bus);
      const log = await openNatsLog({ nc: bus.nc, name: region.replace(/[^A-Za-z0-9_-]/g, '_'), home: region, timeoutMs: 3000 });
      logs.push(log);
      ms.set(region, await createMessaging({ bus, region, topology, log, rpcTimeoutMs: 3000 }));
    }
  } catch (err) {
    await sc.close();
    throw err;
  }
  return {
    regions: REGIONS,
    topology,
    log: (r) => logs[REGIONS.indexOf(r as (typeof REGIONS)[number])]!,
    messaging: (r) => ms.get(r)!,
    kill: (r) => sc.stop(r),
    revive: async (r) => {
      await sc.restart(r);
      await sc.waitReady();
    },
    cut: (a, b) => Promise.resolve(sc.cut(a, b)),
    restore: (a, b) => Promise.resolve(sc.restore(a, b)),
    async close() {
      await Promise.all([...ms.values()].map((m) => m.close()));
      await Promise.all(logs.map((l) => l.close()));
      await Promise.all(buses.map((b) => b.close()));
      await sc.close();
    },
  };
}

describeWithNats('messaging on a NATS super-cluster', () => {
  runMessagingConformance({ name: 'nats', create: deploy });
  runFailoverConformance({ name: 'nats', create: deploy });
});
