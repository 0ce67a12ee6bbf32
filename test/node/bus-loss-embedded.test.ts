// A node that loses its bus (bus-loss-suite.ts) on the embedded bus: three regions, 10 ms links,
// the region killed with the embedded network's switch.
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import { busLossSuite } from './bus-loss-suite.js';
import { threeRegions } from './fixtures.js';

const HEARTBEAT_MS = 300;

busLossSuite('embedded bus', {
  heartbeatMs: HEARTBEAT_MS,
  slackMs: 300,
  async start() {
    const d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:', region: { node: { heartbeatMs: HEARTBEAT_MS } } });
    const net = d.network!;
    const others = (r: string): string[] => net.regions.filter((x) => x !== r);
    return {
      d,
      killBus: (r) => Promise.resolve(net.kill(r)),
      reviveBus: (r) => Promise.resolve(net.revive(r)),
      isolate: (r) => Promise.resolve(others(r).forEach((o) => net.cut(r, o))),
      heal: (r) => Promise.resolve(others(r).forEach((o) => net.restore(r, o))),
      setLatency: (a, b, ms) => net.setLatency(a, b, ms),
      linkMs: 10,
      settle: () => Promise.resolve(),
      close: () => d.close(),
    };
  },
});
