// A node that loses its bus (bus-loss-suite.ts) on a 3-region NATS super-cluster with 50 ms
// gateway links: the region's nats-server is killed with SIGKILL under its running node.
import { startDeployment } from '../../src/runtime/deployment.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { describeWithNats, REGIONS } from '../bus/nats-env.js';
import { busLossSuite } from './bus-loss-suite.js';

const HEARTBEAT_MS = 1000;
const LINK_MS = 50;

describeWithNats('bus loss on NATS', () => {
  busLossSuite('NATS super-cluster, 3 regions, 50 ms links', {
    heartbeatMs: HEARTBEAT_MS,
    slackMs: 700,
    async start() {
      const sc = await startSuperCluster({ regions: REGIONS, latencyMs: LINK_MS });
      try {
        const d = await startDeployment(defaultTopology(), {
          bus: 'nats',
          nats: REGIONS.map((r) => `${r}=${sc.url(r)}`).join(','),
          region: { presence: { graceMs: 400, ttlMs: 5000 }, node: { heartbeatMs: HEARTBEAT_MS } },
        });
        const others = (r: string): string[] => REGIONS.filter((x) => x !== r);
        return {
          d,
          killBus: (r) => sc.stop(r, { kill: true }),
          // Only until the server listens: the node's bus reconnects then, gateways come later.
          reviveBus: (r) => sc.server(r).start(),
          isolate: (r) => Promise.resolve(others(r).forEach((o) => sc.cut(r, o))),
          heal: (r) => Promise.resolve(others(r).forEach((o) => sc.restore(r, o))),
          setLatency: (a, b, ms) => sc.setLatency(a, b, ms),
          linkMs: LINK_MS,
          settle: () => sc.waitReady(),
          async close() {
            await d.close();
            await sc.close();
          },
        };
      } catch (err) {
        await sc.close();
        throw err;
      }
    },
  });
});
