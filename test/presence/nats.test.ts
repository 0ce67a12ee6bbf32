/**
 * Presence on a real three-region NATS super-cluster (one nats-server per region, gateways through
 * latency proxies adding 25 ms one way), a presence bucket in each region: the conformance suite,
 * plus a region whose server stops and comes back. Losing each region in turn, the first one
 * included, is in region-loss-nats.test.ts.
 *
 * Every node has its own connection to its region's server, as region nodes do. A "crash" closes
 * that connection without `close()` on the presence: the process is gone, its reports stay.
 */
import { afterAll, expect, it } from 'vitest';
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { NatsBus } from '../../src/bus/nats/mod.js';
import { createPresence } from '../../src/presence/mod.js';
import type { Presence, PresenceOptions } from '../../src/presence/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { REGIONS, describeWithNats } from '../bus/nats-env.js';
import { runPresenceConformance } from './conformance.js';
import type { PresenceEnv, PresenceFactory, PresenceNode } from './conformance.js';
import { fresh, record, sleep, waitFor } from './helpers.js';

const LINK_MS = 25;
const OPTIONS = { graceMs: 500, ttlMs: 3000, flushDelayMs: 20 };

// One super-cluster for the whole file, started on first use.
let shared: Promise<SuperCluster> | undefined;
const cluster = (): Promise<SuperCluster> => (shared ??= startSuperCluster({ regions: REGIONS, latencyMs: LINK_MS }));
const buses = new Set<NatsBus>();
afterAll(async () => {
  await Promise.all([...buses].map((b) => b.close()));
  if (shared) await (await shared).close();
}, 60_000);

async function startNode(region: string, name: string, opts: PresenceOptions = {}): Promise<PresenceNode> {
  const sc = await cluster();
  const bus = await connectNatsBus({ region, servers: [sc.url(region)], requestTimeoutMs: 2000 });
  buses.add(bus);
  let presence: Presence;
  try {
    presence = await createPresence(bus, { ...OPTIONS, ...opts, node: name, regions: REGIONS });
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
}

const factory: PresenceFactory = {
  name: 'nats',
  options: OPTIONS,
  async create(): Promise<PresenceEnv> {
    await cluster();
    return {
      regions: REGIONS,
      linkLatencyMs: (a, b) => (a === b ? 0 : LINK_MS),
      node: startNode,
      // The cluster outlives the suite: the file's afterAll stops it.
      close: () => Promise.resolve(),
    };
  },
};

describeWithNats('presence conformance: nats', () => {
  runPresenceConformance(factory);
});

describeWithNats('presence on nats', () => {
  it('10 000 sessions on one node reach every region (measured)', async () => {
    const nodes = await Promise.all([startNode(REGIONS[2], fresh('big')), startNode(REGIONS[1], fresh('obs'))]);
    const [big, obs] = nodes;
    try {
      const tag = fresh('k');
      const t0 = performance.now();
      for (let u = 0; u < 1000; u++) {
        for (let k = 0; k < 10; k++) {
          big.presence.connect(`${tag}-${u}`, `s${k}`);
          big.presence.join(`${tag}-room-${u % 10}`, `${tag}-${u}`, `s${k}`);
        }
      }
      const callMs = performance.now() - t0;
      await waitFor('all seen far away', async () => {
        const counts = await Promise.all(Array.from({ length: 10 }, (_, r) => obs.presence.room(`${tag}-room-${r}`, { limit: 1000 })));
        return counts.every((c) => c.members.length === 100);
      }, 30_000, 20);
      const seenMs = performance.now() - t0;
      expect(await obs.presence.user(`${tag}-999`)).toEqual({ user: `${tag}-999`, online: true, regions: [REGIONS[2]], connections: 10 });
      console.log(`[presence] nats: 10 000 sessions (2 000 keys) from ${REGIONS[2]}: ${Math.round(callMs)} ms of calls, all seen in ${REGIONS[1]} after ${Math.round(seenMs)} ms (links ${LINK_MS} ms one way)`);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  }, 60_000);

  it('a region whose server stops goes offline everywhere after the ttl and the grace, and comes back with it', async () => {
    const sc = await cluster();
    const far = REGIONS[2];
    const nodes = await Promise.all([startNode(REGIONS[0], fresh('a')), startNode(REGIONS[1], fresh('b')), startNode(far, fresh('c'))]);
    const [a, b, c] = nodes;
    try {
      const recs = [record(a.presence), record(b.presence)];
      const carol = fresh('carol');
      c.presence.connect(carol, 's');
      c.presence.join('lobby', carol, 's');
      for (const n of [a, b]) await waitFor(`carol seen in ${n.region}`, async () => (await n.presence.user(carol)).online);
      const stopped = Date.now();
      await sc.stop(far);
      for (const n of [a, b]) await waitFor(`carol dropped in ${n.region}`, async () => !(await n.presence.user(carol)).online, OPTIONS.ttlMs * 3 + OPTIONS.graceMs);
      const took = recs.map((r) => r.of('offline', carol)[0]!.at - stopped);
      console.log(`[presence] ${far} stopped: carol offline after ${took.join(', ')} ms (ttl ${OPTIONS.ttlMs} ms, grace ${OPTIONS.graceMs} ms)`);
      // Its bucket is silent too: the grace comes on top of the ttl (the last beat came at most a
      // beat before the stop; one more allowed for a late timer).
      for (const t of took) expect(t).toBeGreaterThanOrEqual(OPTIONS.ttlMs / 3 + OPTIONS.graceMs);
      for (const t of took) expect(t).toBeLessThanOrEqual(OPTIONS.ttlMs + OPTIONS.graceMs + 1500);
      // Nobody else may collect its keys (they are in its region's bucket): they wait for it.
      await sleep(OPTIONS.ttlMs * 1.5);
      const restarted = Date.now();
      await sc.start(far);
      for (const n of [a, b]) {
        await waitFor(`carol back in ${n.region}`, async () => (await n.presence.user(carol)).online && (await n.presence.room('lobby')).members.some((m) => m.user === carol), 30_000, 20);
      }
      console.log(`[presence] ${far} restarted: carol back after ${Date.now() - restarted} ms (server start, reconnect, re-send)`);
      expect(await a.presence.user(carol)).toEqual({ user: carol, online: true, regions: [far], connections: 1 });
      for (const r of recs) expect(r.of('online', carol)).toHaveLength(2);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      if (!sc.isRunning(far)) await sc.start(far);
    }
  }, 90_000);
});
