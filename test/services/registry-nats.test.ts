/**
 * The registry suite on a real three-region NATS super-cluster (one nats-server per region,
 * gateways through latency proxies; each region's workers bucket on JetStream in that region).
 * Killing a region stops its server; reviving starts it again on the same store.
 */
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { NatsBus } from '../../src/bus/nats/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import { REGIONS, describeWithNats, latencyMs } from '../bus/nats-env.js';
import { runRegistrySuite } from './registry-suite.js';

describeWithNats('services registry: nats', () => {
  runRegistrySuite({
    name: 'nats',
    async create() {
      const sc = await startSuperCluster({ regions: REGIONS, latencyMs });
      const buses = new Map<string, NatsBus>();
      for (const region of REGIONS) buses.set(region, await connectNatsBus({ region, servers: [sc.url(region)], requestTimeoutMs: 2000 }));
      return {
        regions: REGIONS,
        rtt: latencyMs,
        bus: (region) => buses.get(region)!,
        kill: (region) => sc.stop(region),
        revive: (region) => sc.start(region),
        async close() {
          await Promise.all([...buses.values()].map((b) => b.close()));
          await sc.close();
        },
      };
    },
  });
});
