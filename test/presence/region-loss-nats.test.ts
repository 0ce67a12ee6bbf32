/**
 * Losing each region in turn on a real three-region NATS super-cluster (scenario in
 * region-loss.ts): the region's nats-server stops (its presence bucket with it) while its node's
 * process keeps running and reconnects once the server is started again. Gateways through latency
 * proxies adding 25 ms one way (50 ms round trips).
 */
import { afterAll } from 'vitest';
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { NatsBus } from '../../src/bus/nats/mod.js';
import { createPresence } from '../../src/presence/mod.js';
import type { Presence } from '../../src/presence/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { REGIONS, describeWithNats } from '../bus/nats-env.js';
import { regionLossTests } from './region-loss.js';

const LINK_MS = 25;
const OPTIONS = { graceMs: 2000, ttlMs: 1500, flushDelayMs: 20 };

let shared: Promise<SuperCluster> | undefined;
const cluster = (): Promise<SuperCluster> => (shared ??= startSuperCluster({ regions: REGIONS, latencyMs: LINK_MS }));
const buses = new Set<NatsBus>();
afterAll(async () => {
  await Promise.all([...buses].map((b) => b.close()));
  if (shared) await (await shared).close();
}, 60_000);

describeWithNats('presence region loss: nats', () => {
  regionLossTests({
    name: 'nats',
    regions: REGIONS,
    options: OPTIONS,
    convergeMs: 30_000,
    testTimeoutMs: 90_000,
    async create() {
      const sc = await cluster();
      return {
        async node(region, name) {
          const bus = await connectNatsBus({ region, servers: [sc.url(region)], requestTimeoutMs: 2000 });
          buses.add(bus);
          let presence: Presence;
          try {
            presence = await createPresence(bus, { ...OPTIONS, node: name, regions: REGIONS });
          } catch (err) {
            await bus.close();
            throw err;
          }
          return {
            region,
            presence,
            crash: () => bus.close(),
            close: async () => {
              await presence.close();
              await bus.close();
            },
          };
        },
        kill: (region) => sc.stop(region),
        revive: async (region) => {
          if (!sc.isRunning(region)) await sc.start(region);
        },
        // The file's afterAll stops the cluster.
        close: () => Promise.resolve(),
      };
    },
  });
});
