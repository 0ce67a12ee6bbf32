// Slow consumers in the metrics: a paused client's dropped live messages are one gap (counted),
// and a client that stops reading is closed 4501 (counted by reason) — a real flood over
// loopback, as in test/node/backpressure.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient } from '../node/client.js';
import { oneRegion } from '../node/fixtures.js';
import { value } from './prom.js';

const BODY = 'x'.repeat(32 * 1024);
const FLOOD = 400; // 13 MB: more than loopback socket buffers absorb

let d: Deployment;
const metrics = async (): Promise<string> => (await fetch(`${d.urls['solo']}/metrics`)).text();

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

describe('slow consumer metrics', () => {
  it('a paused client: one gap, counted; a stuck one: closed and counted', async () => {
    const m0 = await metrics();
    const slow = await TestClient.dev(d.wsUrl('solo'), 'sc-slow');
    await slow.request({ type: 'join', id: 'j', room: 'sc1' });
    slow.ws.pause();
    await flood('sc1');
    slow.ws.resume();
    const gap = await slow.next('gap', () => true, 10_000);
    const m1 = await metrics();
    // One gap for the one conversation, however many messages it covers.
    expect(gap.fromSeq).toBeLessThan(FLOOD);
    expect(value(m1, 'meridian_slow_consumer_gaps_total') - value(m0, 'meridian_slow_consumer_gaps_total')).toBe(1);
    expect(value(m1, 'meridian_frames_sent_total', { type: 'gap' }) - value(m0, 'meridian_frames_sent_total', { type: 'gap' })).toBe(1);
    await slow.close();

    const stuck = await TestClient.dev(d.wsUrl('solo'), 'sc-stuck');
    await stuck.request({ type: 'join', id: 'j', room: 'sc2' });
    stuck.ws.pause();
    await flood('sc2');
    await new Promise((r) => setTimeout(r, 1800));
    stuck.ws.resume();
    expect((await stuck.closed).code).toBe(CloseCode.SLOW_CONSUMER);
    expect(value(await metrics(), 'meridian_slow_consumer_closes_total', { reason: 'stuck' })).toBe(1);
  }, 90_000);
});
