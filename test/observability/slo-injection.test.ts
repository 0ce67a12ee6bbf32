// The SLO evaluated live on a real embedded deployment: failed sends (the home region is cut
// off) and slow deliveries (a slow WAN link) are injected in known numbers, and /v1/slo and the
// metrics move to what the maths says by hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { TestClient } from '../node/client.js';
import { waitFor } from '../e2e/helpers.js';
import { value } from './prom.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';

/** A peer of `from` whose direct conversation with it is homed in `region` (homes are hashed). */
function peerHomedIn(from: string, base: string, region: string): string {
  const p = new ConversationPlacement(defaultTopology());
  for (let i = 0; ; i++) if (p.homeOf(dmConversation(from, `${base}${i}`)) === region) return `${base}${i}`;
}
const dave = peerHomedIn('cara', 'dave', 'ap-southeast');
const bobName = peerHomedIn('amy', 'bob', 'us-east');

let d: Deployment;

interface Window {
  total: number;
  failed: number;
  availability: number | null;
  burnRate: number | null;
  latencyCount: number;
  p50Ms: number | null;
  p95Ms: number | null;
  ok: boolean;
}
interface Slo {
  ok: boolean;
  windows: { '5m': Window; '1h': Window };
  burnRate5m: number | null;
}

const slo = async (region: string): Promise<Slo> => (await (await fetch(`${d.urls[region]}/v1/slo`)).json()) as Slo;
const post = (region: string, from: string, to: string, id: string): Promise<Response> =>
  fetch(`${d.urls[region]}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to: { user: to }, body: id, clientMsgId: id }) });

beforeAll(async () => {
  // No failover within the test: the cut-off home must stay the home (failed sends are the point).
  const t = defaultTopology();
  d = await startEmbeddedDeployment({ ...t, slo: { availability: 0.9, p95Ms: 100, p99Ms: 200 }, replication: { ...t.replication, failoverAfterMs: 600_000 } }, { dataDir: ':memory:' });
});
afterAll(async () => {
  await d?.close();
});

describe('SLO under injected failures and slow deliveries', () => {
  it('2 failed sends of 10 at us-east: availability 0.8, burn rate (0.2 / 0.1) = 2, not ok', async () => {
    // cara's conversation with `dave` is homed in ap-southeast.
    expect((await post('ap-southeast', 'cara', dave, 'c0')).status).toBe(201);
    for (let i = 0; i < 8; i++) expect((await post('us-east', 'ann', 'zed', `a${i}`)).status).toBe(201);
    expect((await slo('us-east')).windows['5m']).toMatchObject({ total: 8, failed: 0, availability: 1, burnRate: 0, ok: true });
    d.network!.kill('ap-southeast');
    try {
      for (let i = 0; i < 2; i++) {
        const r = await post('us-east', dave, 'cara', `d${i}`);
        expect(r.status).toBeGreaterThanOrEqual(500);
      }
    } finally {
      d.network!.revive('ap-southeast');
    }
    // A client's own mistake is not the service failing: not counted.
    expect((await post('us-east', 'ann', '', 'bad')).status).toBe(400);
    const s = await slo('us-east');
    expect(s.windows['5m']).toMatchObject({ total: 10, failed: 2, ok: false });
    expect(s.windows['5m'].availability).toBeCloseTo(0.8, 12);
    expect(s.burnRate5m).toBeCloseTo(2, 9);
    expect(s.windows['1h'].burnRate).toBeCloseTo(2, 9);
    expect(s.ok).toBe(false);
    const m = await (await fetch(`${d.urls['us-east']}/metrics`)).text();
    expect(value(m, 'meridian_messages_sent_total', { outcome: 'failed' })).toBe(2);
    expect(value(m, 'meridian_messages_sent_total', { outcome: 'accepted' })).toBe(8);
    expect(value(m, 'meridian_slo_burn_rate', { window: '5m' })).toBeCloseTo(2, 9);
    expect(value(m, 'meridian_slo_ok')).toBe(0);
  });

  it('2 slow deliveries of 10 at eu-west push p95 over its 100 ms target', async () => {
    // amy's conversation with `bob` is homed in us-east: its deliveries to eu-west cross that link.
    const bob = await TestClient.dev(d.wsUrl('eu-west'), bobName);
    try {
      d.network!.setLatency('us-east', 'eu-west', 5);
      for (let i = 0; i < 8; i++) expect((await post('us-east', 'amy', bobName, `f${i}`)).status).toBe(201);
      await waitFor(() => bob.frames.filter((f) => f.type === 'message').length >= 8, 'bob gets the fast ones');
      let s = await slo('eu-west');
      expect(s.windows['5m'].latencyCount).toBe(8);
      expect(s.windows['5m'].p95Ms!).toBeLessThan(100);
      expect(s.ok).toBe(true);
      // 450, not 400: a timer may fire a little before Date.now() says 400 ms have passed.
      d.network!.setLatency('us-east', 'eu-west', 450);
      for (let i = 0; i < 2; i++) expect((await post('us-east', 'amy', bobName, `s${i}`)).status).toBe(201);
      await waitFor(() => bob.frames.filter((f) => f.type === 'message').length >= 10, 'bob gets the slow ones');
      s = await slo('eu-west');
      // 10 observations, the 2 slowest ≥ 400 ms: rank 9.5 (p95) falls among them, in a bucket at or above 400 ms.
      expect(s.windows['5m'].latencyCount).toBe(10);
      expect(s.windows['5m'].p95Ms!).toBeGreaterThanOrEqual(400);
      expect(s.windows['5m'].p50Ms!).toBeLessThan(100);
      expect(s.windows['5m'].ok).toBe(false);
      // No sends went through eu-west: availability has no data and does not judge.
      expect(s.windows['5m'].availability).toBeNull();
      expect(s.ok).toBe(false);
    } finally {
      bob.ws.close();
    }
  });
});
