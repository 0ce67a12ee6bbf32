// A client that does not keep up: live messages are dropped with one `gap` per conversation (and
// fetched with retransmit later); a client that stops reading is closed 4501 SLOW_CONSUMER.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient } from './client.js';
import { oneRegion } from './fixtures.js';

const BODY = 'x'.repeat(32 * 1024);
const FLOOD = 400; // 13 MB: more than loopback socket buffers absorb

describe('backpressure', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(oneRegion(), {
      dataDir: ':memory:',
      region: { node: { outbound: { softBytes: 64 * 1024, hardBytes: 32 << 20, stuckMs: 1500 }, rateLimit: { ratePerSec: 100_000, burst: 100_000 } } },
    });
  });
  afterAll(async () => {
    await d?.close();
  });

  async function flood(room: string): Promise<void> {
    const sender = await TestClient.dev(d.wsUrl('solo'), `${room}-sender`);
    for (let i = 0; i < FLOOD; i++) sender.send({ type: 'send', id: `s${i}`, to: { room }, body: BODY, clientMsgId: `k${i}` });
    await sender.waitAcks(FLOOD, 20_000);
    await sender.close();
  }

  it('drops live messages of a lagging client with one gap, and retransmit fills it', async () => {
    const slow = await TestClient.dev(d.wsUrl('solo'), 'bp-slow');
    await slow.request({ type: 'join', id: 'j', room: 'bp1' });
    slow.ws.pause();
    await flood('bp1');
    slow.ws.resume();
    const gap = await slow.next('gap', () => true, 10_000);
    expect(gap).toMatchObject({ conversation: 'room:bp1', reason: 'slow_consumer' });
    await new Promise((r) => setTimeout(r, 300));
    const before = slow.messages('room:bp1').map((m) => m.seq);
    // Everything before the gap arrived, in order; nothing after it.
    expect(before).toEqual(Array.from({ length: gap.fromSeq - 1 }, (_, i) => i + 1));
    expect(slow.frames.filter((f) => f.type === 'gap')).toEqual([]);
    slow.send({ type: 'retransmit', id: 't', conversation: 'room:bp1', fromSeq: gap.fromSeq });
    await slow.next('resumed');
    const all = await slow.waitMessages('room:bp1', FLOOD, 20_000);
    expect(all.map((m) => m.seq)).toEqual(Array.from({ length: FLOOD }, (_, i) => i + 1));
    await slow.close();
  }, 60_000);

  it('closes 4501 a client that stops reading', async () => {
    const stuck = await TestClient.dev(d.wsUrl('solo'), 'bp-stuck');
    await stuck.request({ type: 'join', id: 'j', room: 'bp2' });
    stuck.ws.pause();
    await flood('bp2');
    await new Promise((r) => setTimeout(r, 1800));
    stuck.ws.resume();
    expect((await stuck.closed).code).toBe(CloseCode.SLOW_CONSUMER);
  }, 60_000);
});
