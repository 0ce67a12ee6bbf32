/**
 * A WebSocket through the edge over many heartbeat intervals. `meridian up` runs with the
 * default 5 s heartbeat, so this case starts the same pieces in process (region nodes with a
 * 250 ms heartbeat, the edge in front, real sockets) to see dozens of intervals in a few seconds:
 * the edge must neither time the connection out nor hold frames back.
 */
import { it, expect, beforeAll, afterAll } from 'vitest';
import { MeridianClient } from '../../src/client/node.js';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { Recorder, sleep } from './helpers.js';

// Short, but not so short that a busy machine's event-loop stalls pass for dead connections.
const HEARTBEAT_MS = 250;
let d: Deployment;
let edge: Edge;

beforeAll(async () => {
  d = await startEmbeddedDeployment(defaultTopology(), { dataDir: ':memory:', region: { node: { heartbeatMs: HEARTBEAT_MS } } });
  edge = await startEdge({ topology: d.topology, regionUrls: d.urls, port: 0 });
});
afterAll(async () => {
  await edge?.close();
  await d?.close();
});

it('a WebSocket through the edge stays open across 15 heartbeat intervals and carries messages', async () => {
  const url = `${edge.url.replace(/^http/, 'ws')}/ws`;
  const a = new MeridianClient({ url, user: 'hb-a' });
  const b = new MeridianClient({ url, user: 'hb-b' });
  try {
    const ra = new Recorder(a);
    const rb = new Recorder(b);
    await Promise.all([a.connected(), b.connected()]);
    const conv = dmConversation('hb-a', 'hb-b');
    for (let i = 0; i < 6; i++) {
      await sleep(2.5 * HEARTBEAT_MS);
      await a.send({ user: 'hb-b' }, i);
    }
    await rb.count(conv, 6);
    expect(rb.bodies(conv)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(ra.statuses.map((s) => s.type)).toEqual(['connected']);
    expect(rb.statuses.map((s) => s.type)).toEqual(['connected']);
    // Heartbeats went through the edge and were answered all along: one connection each.
    expect(a.stats.heartbeats).toBeGreaterThanOrEqual(10);
    expect(a.stats.connects).toBe(1);
    expect(b.stats.connects).toBe(1);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
