// The SLO evaluated live on a real embedded deployment: failed sends (the home region is cut
// off) and slow deliveries (a slow WAN link) are injected in known numbers, and /v1/slo and the
// metrics move to what the maths says by hand; with per-region targets, the same outcomes breach
// one region's stricter target and meet another's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
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

describe('SLO targets per region', () => {
  // Global availability 0.8; us-east holds itself to 0.95. Both regions see the same outcomes
  // (9 good sends, 1 failed): availability 0.9 breaches us-east's target and meets eu-west's.
  let p: Deployment;
  let edge: Edge;
  beforeAll(async () => {
    const t = defaultTopology();
    const topology = { ...t, slo: { availability: 0.8, p95Ms: 500, regions: { 'us-east': { availability: 0.95 } } }, replication: { ...t.replication, failoverAfterMs: 600_000 } };
    p = await startEmbeddedDeployment(topology, { dataDir: ':memory:' });
    edge = await startEdge({ topology, regionUrls: p.urls, port: 0, geoip: null, rateLimit: false });
  });
  afterAll(async () => {
    await edge?.close();
    await p?.close();
  });
  const sloOf = async (region: string): Promise<Slo & { targets: Record<string, number | null> }> => (await (await fetch(`${p.urls[region]}/v1/slo`)).json()) as Slo & { targets: Record<string, number | null> };
  const send = (region: string, from: string, to: string, id: string): Promise<Response> =>
    fetch(`${p.urls[region]}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to: { user: to }, body: id, clientMsgId: id }) });

  it('the same 1-in-10 failure breaches us-east\'s stricter 0.95 and meets eu-west\'s global 0.8', async () => {
    for (const region of ['us-east', 'eu-west']) {
      for (let i = 0; i < 9; i++) expect((await send(region, `ann-${region}`, 'zed', `g${i}`)).status).toBe(201);
    }
    // dave's conversation with cara is homed in ap-southeast: cut off, a send there fails.
    p.network!.kill('ap-southeast');
    try {
      for (const region of ['us-east', 'eu-west']) expect((await send(region, dave, 'cara', `x-${region}`)).status).toBeGreaterThanOrEqual(500);
    } finally {
      p.network!.revive('ap-southeast');
    }
    const us = await sloOf('us-east');
    const eu = await sloOf('eu-west');
    expect(us.targets).toEqual({ availability: 0.95, p95Ms: 500, p99Ms: null, errorRate: null });
    expect(eu.targets).toEqual({ availability: 0.8, p95Ms: 500, p99Ms: null, errorRate: null });
    for (const s of [us, eu]) {
      expect(s.windows['5m']).toMatchObject({ total: 10, failed: 1 });
      expect(s.windows['5m'].availability).toBeCloseTo(0.9, 12);
    }
    // us-east: budget 1 - 0.95 = 0.05, burn 0.1 / 0.05 = 2; eu-west: budget 0.2, burn 0.5.
    expect(us.ok).toBe(false);
    expect(us.burnRate5m).toBeCloseTo(2, 9);
    expect(eu.ok).toBe(true);
    expect(eu.burnRate5m).toBeCloseTo(0.5, 9);
    const m = await (await fetch(`${p.urls['us-east']}/metrics`)).text();
    expect(value(m, 'meridian_slo_ok')).toBe(0);
    expect(value(await (await fetch(`${p.urls['eu-west']}/metrics`)).text(), 'meridian_slo_ok')).toBe(1);
    // The edge's aggregate shows each region's own targets and verdict; not every region is ok.
    const all = (await (await fetch(`${edge.url}/v1/slo`)).json()) as { ok: boolean; regions: Record<string, { targets: { availability: number }; reachable: boolean; slo?: { ok: boolean } }> };
    expect(all.ok).toBe(false);
    expect(all.regions['us-east']).toMatchObject({ targets: { availability: 0.95 }, reachable: true, slo: { ok: false } });
    expect(all.regions['eu-west']).toMatchObject({ targets: { availability: 0.8 }, reachable: true, slo: { ok: true } });
    expect(all.regions['ap-southeast']).toMatchObject({ targets: { availability: 0.8 }, reachable: true });
  });
});
