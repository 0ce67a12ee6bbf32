/**
 * The bus conformance suite against `NatsBus` on a real three-region NATS super-cluster
 * (one nats-server per region, gateways through latency/partition proxies).
 *
 * Links: us-east <-> eu-west 8 ms, eu-west <-> ap-southeast 20 ms, us-east <-> ap-southeast
 * 30 ms one way, so "nearest region" is unambiguous from everywhere.
 */
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { NatsBus } from '../../src/bus/nats/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import { runBusConformance } from './conformance.js';
import type { BusFabric, FabricFactory } from './fabric.js';
import { REGIONS, describeWithNats, latencyMs } from './nats-env.js';

const factory: FabricFactory = {
  name: 'nats',
  async create(): Promise<BusFabric> {
    const sc = await startSuperCluster({ regions: REGIONS, latencyMs });
    const buses: NatsBus[] = [];
    return {
      regions: REGIONS,
      linkLatencyMs: latencyMs,
      async connect(region) {
        // Unknown regions fail in the harness (no such server) before any connection attempt.
        const bus = await connectNatsBus({ region, servers: [sc.url(region)], requestTimeoutMs: 2000 });
        buses.push(bus);
        return bus;
      },
      kill: (region) => sc.stop(region),
      revive: (region) => sc.restart(region),
      cut: (a, b) => {
        sc.cut(a, b);
        return Promise.resolve();
      },
      // Gateways reconnect on their own schedule; "restored" means they are back both ways.
      restore: async (a, b) => {
        sc.restore(a, b);
        await sc.waitReady();
      },
      async close() {
        await Promise.all(buses.splice(0).map((b) => b.close()));
        await sc.close();
      },
    };
  },
  knownDifferences: [],
};

describeWithNats('bus conformance: nats', () => {
  runBusConformance(factory);
});
