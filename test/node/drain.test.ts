// Drain and outages: a draining node sends migrate, clients that follow it lose nothing; clients
// that do not are closed 4500 at the deadline; a region taken down stops answering and comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient, eventually } from './client.js';
import { threeRegions } from './fixtures.js';

describe('drain', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:', region: { node: { drainDeadlineMs: 1500 } } });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('migrates clients to the nearest region; a client that follows migrate loses nothing', async () => {
    const sender = await TestClient.dev(d.wsUrl('eu-west'), 'd-sender');
    let listener = await TestClient.dev(d.wsUrl('us-east'), 'd-listener');
    const stubborn = await TestClient.dev(d.wsUrl('us-east'), 'd-stubborn');
    await listener.request({ type: 'join', id: 'j', room: 'drain-room' });
    const acked: number[] = [];
    let sending = true;
    const pump = (async () => {
      for (let i = 1; sending; i++) {
        const a = (await sender.request({ type: 'send', id: `s${i}`, to: { room: 'drain-room' }, body: i, clientMsgId: `k${i}` })) as { seq: number };
        acked.push(a.seq);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await listener.waitMessages('room:drain-room', 5);
    const draining = d.region('us-east').node.drain();
    const m = await listener.next('migrate');
    expect(m).toMatchObject({ reason: 'drain', suggestedRegion: 'eu-west', url: d.wsUrl('eu-west') });
    expect(m.deadlineMs).toBeGreaterThan(0);
    expect((await fetch(`${d.urls['us-east']}/ready`)).status).toBe(503);
    const refused = (await TestClient.open(d.wsUrl('us-east')).catch((e: unknown) => e)) as { status: number };
    expect(refused.status).toBe(503);
    // Follow migrate: connect there, rejoin, resume from the last seq, then close the old one.
    const old = listener;
    const last = Math.max(...old.messages('room:drain-room').map((x) => x.seq));
    listener = await TestClient.dev(m.url, 'd-listener');
    await listener.request({ type: 'join', id: 'j', room: 'drain-room' });
    listener.send({ type: 'resume', id: 'r', positions: { 'room:drain-room': last } });
    await listener.next('resumed');
    const before = old.messages('room:drain-room');
    await old.close();
    expect((await stubborn.closed).code).toBe(CloseCode.SERVER_DRAINING);
    await draining;
    sending = false;
    await pump;
    // Zero loss: every acked message reached the listener on one of its two connections.
    const seen = (): Set<number> => new Set([...before, ...listener.messages('room:drain-room')].map((x) => x.seq));
    await eventually(() => acked.every((s) => seen().has(s)), 'every acked message delivered').catch(() => undefined);
    expect(acked.filter((s) => !seen().has(s))).toEqual([]);
    expect(acked.length).toBeGreaterThan(10);
    await sender.close();
    await listener.close();
  });
});

describe('a region taken down', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:', region: { presence: { ttlMs: 1000, graceMs: 200 } } });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('destroys its connections, refuses new ones and fails /ready, then comes back', async () => {
    const c = await TestClient.dev(d.wsUrl('ap-southeast'), 'down-user');
    await d.takeDown('ap-southeast');
    expect((await c.closed).code).toBe(1006);
    await expect(fetch(`${d.urls['ap-southeast']}/ready`)).rejects.toThrow();
    await expect(TestClient.open(d.wsUrl('ap-southeast'))).rejects.toThrow();
    await d.bringUp('ap-southeast');
    await eventually(async () => (await fetch(`${d.urls['ap-southeast']}/ready`)).status === 200, 'ap-southeast ready again');
    const again = await TestClient.dev(d.wsUrl('ap-southeast'), 'down-user');
    await again.close();
  });

  it('lets the other regions see its users go offline within the presence TTL', async () => {
    const c = await TestClient.dev(d.wsUrl('ap-southeast'), 'ttl-user');
    const online = async (): Promise<boolean> => ((await (await fetch(`${d.urls['us-east']}/v1/presence/ttl-user`)).json()) as { online: boolean }).online;
    await eventually(online, 'ttl-user online from us-east');
    await d.takeDown('ap-southeast');
    await c.closed;
    const downAt = Date.now();
    await eventually(async () => !(await online()), 'ttl-user offline from us-east', 5000);
    expect(Date.now() - downAt).toBeLessThan(4000);
    await d.bringUp('ap-southeast');
  });

  it('reports itself unready while its bus is cut off', async () => {
    d.network!.kill('eu-west');
    await eventually(async () => (await fetch(`${d.urls['eu-west']}/ready`)).status === 503, 'eu-west unready');
    expect(await (await fetch(`${d.urls['eu-west']}/ready`)).json()).toMatchObject({ reason: 'bus_disconnected' });
    d.network!.revive('eu-west');
    await eventually(async () => (await fetch(`${d.urls['eu-west']}/ready`)).status === 200, 'eu-west ready again');
  });
});

// `migrate` names the nearest other region that is ready and not draining. In threeRegions,
// us-east's nearest region is eu-west (the test above), eu-west's is us-east; ap-southeast is
// the farthest from both.
describe('migrate targets', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:', region: { node: { drainDeadlineMs: 1500 } } });
  });
  afterAll(async () => {
    await d?.close();
  });

  // A region restarting in place refuses connections for a moment: not ready either.
  const ready = async (region: string): Promise<boolean> => (await fetch(`${d.urls[region]}/ready`).catch(() => undefined))?.status === 200;

  it('skips the nearest region while it is draining', async () => {
    // eu-west drains and stays draining: its one client ignores migrate, its deadline is long.
    const stubborn = await TestClient.dev(d.wsUrl('eu-west'), 'mt-stubborn');
    const euDrain = d.drainRegion('eu-west', { deadlineMs: 15_000 });
    expect(await stubborn.next('migrate')).toMatchObject({ suggestedRegion: 'us-east' });
    expect(await ready('eu-west')).toBe(false);
    // us-east drains now: eu-west is nearer, but draining.
    const mover = await TestClient.dev(d.wsUrl('us-east'), 'mt-mover');
    const usDrain = d.drainRegion('us-east', { deadlineMs: 5000 });
    expect(await mover.next('migrate')).toMatchObject({ reason: 'drain', suggestedRegion: 'ap-southeast', url: d.wsUrl('ap-southeast') });
    expect(d.region('eu-west').node.draining).toBe(true);
    await mover.close();
    await stubborn.close();
    await Promise.all([euDrain, usDrain]);
    await eventually(async () => (await ready('eu-west')) && (await ready('us-east')), 'eu-west and us-east restarted and ready');
  });

  it('skips the nearest region while it is cut off from its bus (unready, not answering)', async () => {
    d.network!.kill('eu-west');
    try {
      await eventually(async () => !(await ready('eu-west')), 'eu-west unready');
      const mover = await TestClient.dev(d.wsUrl('us-east'), 'mt-mover-2');
      const usDrain = d.drainRegion('us-east', { deadlineMs: 5000 });
      expect(await mover.next('migrate')).toMatchObject({ reason: 'drain', suggestedRegion: 'ap-southeast', url: d.wsUrl('ap-southeast') });
      await mover.close();
      await usDrain;
    } finally {
      d.network!.revive('eu-west');
    }
  });
});
