/**
 * Losing each region in turn on the embedded bus (scenario in region-loss.ts): a killed region's
 * buses are disconnected and everything to and from it is lost until it is revived.
 */
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { createPresence } from '../../src/presence/mod.js';
import { latencyMs } from '../bus/nats-env.js';
import { regionLossTests } from './region-loss.js';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
const OPTIONS = { graceMs: 1000, ttlMs: 750, flushDelayMs: 10 };

regionLossTests({
  name: 'embedded',
  regions: REGIONS,
  options: OPTIONS,
  convergeMs: 5000,
  testTimeoutMs: 20_000,
  create() {
    const net = new EmbeddedNetwork(
      REGIONS.map((name, i) => ({ name, lat: i * 10, lon: i * 10 })),
      { latencyMs },
    );
    return Promise.resolve({
      async node(region, name) {
        const bus = net.connect(region);
        const presence = await createPresence(bus, { ...OPTIONS, node: name, regions: REGIONS });
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
      kill: (region) => Promise.resolve(net.kill(region)),
      revive: (region) => Promise.resolve(net.revive(region)),
      close: () => net.close(),
    });
  },
});
