/**
 * Make before break, with nothing to hide behind: presence without its reconnect grace
 * (`graceMs: 0`), so a client that let its old connection go before the new one had re-joined
 * would show its peers `offline` + `online` and `leave` + `join`. Three regions in this process,
 * the edge with the deployment's drain hook; every region drained in turn through the edge while
 * room members watch each other. Also: a drain finishes long before its deadline (the clients
 * left by themselves), an edge without the hook asks the node to drain, and a full shutdown
 * sends no `migrate` — there is nowhere to go.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { MeridianClient } from '../../src/client/node.js';
import type { MigrateFrame } from '../../src/protocol/mod.js';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { roomConversation } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { Recorder, sleep, waitFor } from './helpers.js';

const topology = defaultTopology();
const TOKEN = 'rolling-drain-admin-token-0123456789';
const N = 12;
let d: Deployment;
let edge: Edge;
const clients: MeridianClient[] = [];

beforeAll(async () => {
  d = await startEmbeddedDeployment(topology, { dataDir: ':memory:', region: { presence: { graceMs: 0 }, node: { auth: { dev: true }, adminToken: TOKEN, drainDeadlineMs: 20_000 } } });
  edge = await startEdge({ topology, regionUrls: d.urls, port: 0, geoip: null, rateLimit: false, adminToken: TOKEN, onRegionDrain: (r) => d.drainRegion(r) });
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await edge?.close();
  await d?.close();
});

describe('make before break without presence grace', () => {
  it('drains every region in turn: peers see no leave/join or offline/online, room traffic arrives once', async () => {
    const names = Object.keys(d.urls);
    const recs: Recorder[] = [];
    for (let i = 0; i < N; i++) {
      const c = new MeridianClient({ url: d.wsUrl(names[i % names.length]!), user: `mbb-${i}` });
      clients.push(c);
      recs.push(new Recorder(c));
    }
    await Promise.all(clients.map((c) => c.connected()));
    await Promise.all(clients.map((c) => c.join('mbb-room')));
    await sleep(300);
    await Promise.all(clients.map((c) => c.subscribePresence({ room: 'mbb-room' })));
    await Promise.all(clients.map((c, i) => c.subscribePresence({ user: `mbb-${(i + 1) % N}` })));

    let stop = false;
    const acked: number[] = [];
    const talker = (async () => {
      for (let k = 0; !stop; k++) {
        await clients[0]!.send({ room: 'mbb-room' }, { k });
        acked.push(k);
        await sleep(60);
      }
    })();
    const migrates: { m: MigrateFrame; draining: string }[] = [];
    let draining = '';
    for (const c of clients) c.on('migrate', (m) => migrates.push({ m, draining }));

    for (const region of names) {
      draining = region;
      const t0 = Date.now();
      const res = await fetch(`${edge.url}/v1/admin/regions/${region}/drain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(202);
      await waitFor(async () => {
        const body = (await (await fetch(`${edge.url}/v1/regions`)).json()) as { regions: { name: string; state: string }[] };
        return body.regions.find((r) => r.name === region)?.state === 'ready';
      }, `${region} ready again`, 30_000, 50);
      // The clients left by themselves: nowhere near the 20 s deadline.
      expect(Date.now() - t0).toBeLessThan(10_000);
    }
    stop = true;
    await talker;

    // Every client moved at least once, never to the region being drained.
    expect(migrates.length).toBeGreaterThanOrEqual(N);
    for (const { m, draining: from } of migrates) expect(m.suggestedRegion).not.toBe(from);
    const conv = roomConversation('mbb-room');
    for (const [i, r] of recs.entries()) {
      if (i === 0) continue;
      await waitFor(() => r.in(conv).length >= acked.length, () => `client ${i}: ${acked.length} room messages (has ${r.in(conv).length})`, 10_000);
      expect(r.bodies(conv)).toEqual(acked.map((k) => ({ k })));
    }
    const flaps = recs.flatMap((r) => r.presence.filter((e) => e.event === 'offline' || e.event === 'leave'));
    expect(flaps).toEqual([]);
    expect(recs.flatMap((r) => r.resumed.filter((x) => !x.recovered))).toEqual([]);
  }, 90_000);

  it('without a drain hook the edge asks the node, with the admin token, and the region restarts in place, shown draining until the new node is ready', async () => {
    const plain = await startEdge({ topology, regionUrls: d.urls, port: 0, geoip: null, rateLimit: false, adminToken: TOKEN });
    try {
      const c = new MeridianClient({ url: d.wsUrl('ap-southeast'), user: 'mbb-plain' });
      clients.push(c);
      await c.connected();
      const before = d.region('ap-southeast').node.node;
      // The node's own endpoint wants the admin token.
      const anon = await fetch(`${d.urls['ap-southeast']}/v1/admin/drain`, { method: 'POST' });
      expect(anon.status).toBe(401);
      const res = await fetch(`${plain.url}/v1/admin/regions/ap-southeast/drain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(202);
      expect(((await res.json()) as { state: string }).state).toBe('draining');
      // Every state the edge shows until ap-southeast is ready again, with the node id serving then
      // and whether /v1/candidates offered the region (asked first: if the state read after it is
      // still `draining`, the list was given while the mark was held, which is set once and dropped once).
      const seen: { state: string; node: string; offered: boolean }[] = [];
      await waitFor(async () => {
        const list = (await (await fetch(`${plain.url}/v1/candidates`)).json()) as { candidates: { region: string }[] };
        const body = (await (await fetch(`${plain.url}/v1/regions`)).json()) as { regions: { name: string; state: string }[] };
        const state = body.regions.find((r) => r.name === 'ap-southeast')?.state ?? 'missing';
        seen.push({ state, node: d.region('ap-southeast').node.node, offered: list.candidates.some((x) => x.region === 'ap-southeast') });
        return state === 'ready';
      }, () => `ap-southeast shown ready again (states: ${[...new Set(seen.map((x) => x.state))].join(' → ')})`, 30_000, 25);
      // draining first, then ready at once: no stale ready, no down of the restart in between.
      const states = seen.map((x) => x.state).filter((x, i, all) => i === 0 || x !== all[i - 1]);
      expect(states).toEqual(['draining', 'ready']);
      expect(seen.length).toBeGreaterThan(1);
      // Ready only once the node restarted: a new node id on the same URL.
      for (const x of seen.filter((y) => y.state === 'ready')) expect(x.node).not.toBe(before);
      // Never offered to electing clients while draining; offered again once ready.
      expect(seen.filter((x) => x.state === 'draining' && x.offered)).toEqual([]);
      expect(((await (await fetch(`${plain.url}/v1/candidates`)).json()) as { candidates: { region: string }[] }).candidates.map((x) => x.region)).toContain('ap-southeast');
      expect(c.welcome?.region).not.toBe('ap-southeast');
      expect((await fetch(`${d.urls['ap-southeast']}/ready`)).status).toBe(200);
    } finally {
      await plain.close();
    }
  }, 45_000);

  it('sends no migrate on a full shutdown: there is nowhere to go', async () => {
    const c = new MeridianClient({ url: d.wsUrl('eu-west'), user: 'mbb-last', reconnect: false });
    clients.push(c);
    const r = new Recorder(c);
    const migrates: MigrateFrame[] = [];
    c.on('migrate', (m) => migrates.push(m));
    await c.connected();
    await d.stop({ deadlineMs: 5000 });
    await waitFor(() => c.isClosed, 'the client closed by the shutdown');
    expect(migrates).toEqual([]);
    const closed = await c.closed();
    expect(closed?.message).toMatch(/4500|SERVER_DRAINING|nowhere/);
    expect(r.statuses.some((s) => s.type === 'migrating')).toBe(false);
  }, 30_000);
});
