/**
 * Latency election end to end: three regions on the embedded bus, each behind a TCP proxy that
 * adds a one-way latency (the client's link to that region), the edge in front of the proxies.
 * The client asks the edge's `/v1/candidates`, times `/health` through each proxy, connects to
 * the fastest; changing a proxy's latency changes the link under a connected client, cutting a
 * proxy makes a candidate fail. Residency comes from a GeoIP stub placing the client in Germany.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { ClientUnreachableError, MeridianClient } from '../../src/client/node.js';
import type { ClientOptions, ElectionReport, FetchLike } from '../../src/client/node.js';
import type { MigrateFrame } from '../../src/protocol/mod.js';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import type { GeoIp } from '../../src/edge/geoip.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { startTcpProxy } from '../../src/testing/mod.js';
import type { TcpProxy } from '../../src/testing/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { Recorder, sleep, waitFor } from './helpers.js';

const topology = defaultTopology();
let d: Deployment;
const proxies = new Map<string, TcpProxy>();
let edge: Edge;
const clients: MeridianClient[] = [];
const edges: Edge[] = [];

/** One-way latencies (ms) of the client's link to each region. */
const BASE: Record<string, number> = { 'us-east': 2, 'eu-west': 25, 'ap-southeast': 50 };

function setLatencies(l: Record<string, number>): void {
  for (const [r, ms] of Object.entries(l)) proxies.get(r)!.setLatency(ms);
}

async function newEdge(geoip: GeoIp | null): Promise<Edge> {
  const e = await startEdge({
    topology,
    regionUrls: Object.fromEntries([...proxies].map(([r, p]) => [r, `http://127.0.0.1:${p.port}`])),
    port: 0,
    geoip,
    rateLimit: false,
    // Cut proxies stay listed: these tests want candidates that fail at the client's probe.
    probe: { downAfter: 1000 },
  });
  edges.push(e);
  await waitFor(() => e.monitor.all().every((h) => h.healthy), 'every region healthy at the edge');
  return e;
}

function client(user: string, o: Partial<ClientOptions> = {}): { c: MeridianClient; r: Recorder; elections: ElectionReport[] } {
  const c = new MeridianClient({ user, edge: edge.url, election: { samples: 2, linkSampleMs: 150, baselineSamples: 3, degradeSamples: 3, cooldownMs: 0, intervalMs: 0 }, ...o });
  const r = new Recorder(c);
  const elections: ElectionReport[] = [];
  c.on('election', (e) => elections.push(e));
  clients.push(c);
  return { c, r, elections };
}

beforeAll(async () => {
  // No presence grace: a move that let the old link go before the new one re-joined would show
  // peers offline + online and leave + join, not hide behind the reconnect grace.
  d = await startEmbeddedDeployment(topology, { dataDir: ':memory:', region: { presence: { graceMs: 0 } } });
  for (const r of topology.regions) proxies.set(r.name, await startTcpProxy({ targetPort: Number(new URL(d.urls[r.name]!).port), latencyMs: BASE[r.name]! }));
  edge = await newEdge(null);
}, 30_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const p of proxies.values()) p.restore();
  setLatencies(BASE);
});

afterAll(async () => {
  await Promise.all(edges.map((e) => e.close()));
  await Promise.all([...proxies.values()].map((p) => p.close()));
  await d?.close();
});

describe('latency election', () => {
  it('connects to the region with the lowest measured latency, whatever the edge scores', async () => {
    const a = client('el-a');
    const w = await a.c.connected();
    expect(w.region).toBe('us-east');
    expect(a.elections[0]).toMatchObject({ trigger: 'connect', decision: 'connect', region: 'us-east' });
    const ranked = a.elections[0]!.result.ranked.map((c) => c.region);
    expect(ranked).toEqual(['us-east', 'eu-west', 'ap-southeast']);

    // The links change: Singapore is now the closest to this client.
    setLatencies({ 'us-east': 60, 'eu-west': 40, 'ap-southeast': 2 });
    const b = client('el-b');
    expect((await b.c.connected()).region).toBe('ap-southeast');
  });

  it('re-elects when the link degrades, moving make-before-break: nothing lost, no presence flap', async () => {
    const peer = new MeridianClient({ url: d.wsUrl('eu-west'), user: 'el-peer' });
    clients.push(peer);
    const peerRec = new Recorder(peer);
    const m = client('el-mover');
    expect((await m.c.connected()).region).toBe('us-east');
    await m.c.join('el-room');
    await peer.connected();
    await peer.subscribePresence({ user: 'el-mover' });
    await peer.subscribePresence({ room: 'el-room' });
    await sleep(600); // the link's baseline: 3 samples

    // Traffic to the mover throughout the move.
    let sent = 0;
    const sending = (async () => {
      for (let i = 0; i < 40; i++) {
        await peer.send({ user: 'el-mover' }, { i });
        sent++;
        await sleep(40);
      }
    })();
    await sleep(300);
    proxies.get('us-east')!.setLatency(150); // 300 ms round trips: > 3 × baseline and baseline + 50
    await waitFor(() => m.c.welcome?.region === 'eu-west', () => `a move to eu-west (elections: ${JSON.stringify(m.elections.map((e) => [e.trigger, e.decision, e.region, e.why]))})`, 15_000);
    await sending;
    const conv = dmConversation('el-mover', 'el-peer');
    await m.r.count(conv, sent, 10_000);
    expect(m.r.seqs(conv)).toEqual([...new Set(m.r.seqs(conv))]);
    expect(m.r.bodies(conv)).toEqual(Array.from({ length: sent }, (_, i) => ({ i })));
    // Reported once the move is complete (the old link closed after the linger).
    await waitFor(() => m.elections.some((e) => e.decision === 'switch'), 'the switch reported', 5000);
    expect(m.elections.find((e) => e.decision === 'switch')).toMatchObject({ trigger: 'degraded', region: 'eu-west', current: 'us-east' });
    expect(m.r.lost).toEqual([]);
    expect(m.r.resumed.filter((x) => !x.recovered)).toEqual([]);
    await sleep(500);
    const flaps = peerRec.presence.filter((e) => e.user === 'el-mover' && (e.event === 'offline' || e.event === 'leave'));
    expect(flaps).toEqual([]);
  }, 40_000);

  it('keeps the working link when every other candidate fails, and when the edge is gone', async () => {
    const m = client('el-keeper');
    expect((await m.c.connected()).region).toBe('us-east');
    await sleep(600);
    const connectsBefore = m.c.stats.connects;
    proxies.get('eu-west')!.cut();
    proxies.get('ap-southeast')!.cut();
    proxies.get('us-east')!.setLatency(150);
    await waitFor(() => m.elections.some((e) => e.trigger === 'degraded'), 'a re-election on the degraded link', 10_000);
    const e = m.elections.find((x) => x.trigger === 'degraded')!;
    expect(e.decision).toBe('stay');
    expect(e.result.failures.map((f) => f.region).sort()).toEqual(['ap-southeast', 'eu-west']);
    expect(m.c.welcome?.region).toBe('us-east');
    expect(m.c.stats.connects).toBe(connectsBefore);
    // Still a working link: a send is acked.
    await expect(m.c.send({ user: 'el-keeper-peer' }, { still: 'here' })).resolves.toMatchObject({ duplicate: false });
  }, 30_000);

  it('keeps the working link when every faster candidate answers its probe but cannot be connected (#861)', async () => {
    // The edge's list is rewritten so that every other region's WebSocket URL is a dead port,
    // while its /health (the probe) still answers through its proxy: fast on paper, unconnectable.
    const dead = 'ws://127.0.0.1:9/ws';
    const rewriting: FetchLike = async (input, init) => {
      const res = await fetch(input, init);
      if (!input.endsWith('/v1/candidates')) return res;
      const body = (await res.json()) as { candidates: { region: string; wsUrl: string }[] };
      for (const c of body.candidates) if (c.region !== 'us-east') c.wsUrl = dead;
      return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } });
    };
    const m = client('el-861', { fetch: rewriting });
    expect((await m.c.connected()).region).toBe('us-east');
    await sleep(600);
    const connectsBefore = m.c.stats.connects;
    proxies.get('us-east')!.setLatency(150);
    await waitFor(() => m.elections.some((e) => e.trigger === 'degraded'), 'a re-election on the degraded link', 10_000);
    const e = m.elections.find((x) => x.trigger === 'degraded')!;
    // Both others were probed and found faster: the move was tried, and failed to connect.
    expect(e.result.failures).toEqual([]);
    expect(e.result.ranked.map((c) => c.region).slice(0, 2).sort()).toEqual(['ap-southeast', 'eu-west']);
    expect(e).toMatchObject({ decision: 'stay', region: 'us-east', current: 'us-east' });
    expect(e.why).toMatch(/every faster candidate failed to connect/);
    expect(m.r.errors.length).toBeGreaterThanOrEqual(2);
    expect(m.c.welcome?.region).toBe('us-east');
    expect(m.c.status.type).toBe('connected');
    expect(m.c.stats.connects).toBe(connectsBefore);
    await expect(m.c.send({ user: 'el-861-peer' }, { still: 'here' })).resolves.toMatchObject({ duplicate: false });
  }, 30_000);

  it('stays on its link when the edge cannot be asked', async () => {
    const lonely = await newEdge(null);
    const m = client('el-edgeless', { edge: lonely.url });
    expect((await m.c.connected()).region).toBe('us-east');
    await sleep(600);
    await lonely.close();
    proxies.get('us-east')!.setLatency(150);
    await waitFor(() => m.elections.some((e) => e.trigger === 'degraded'), 'a re-election on the degraded link', 10_000);
    const e = m.elections.find((x) => x.trigger === 'degraded')!;
    expect(e).toMatchObject({ decision: 'stay', region: 'us-east' });
    expect(e.result.failures[0]?.region).toBe('edge');
    expect(m.c.status.type).toBe('connected');
  }, 30_000);

  it('never elects a region strict residency forbids, however fast', async () => {
    const germany: GeoIp = { lookup: () => ({ country: 'DE', lat: 52.52, lon: 13.4 }), builtAt: new Date() };
    const eu = await newEdge(germany);
    const body = (await (await fetch(`${eu.url}/v1/candidates`)).json()) as { candidates: { region: string }[] };
    expect(body.candidates.map((c) => c.region)).toEqual(['eu-west']);
    setLatencies({ 'us-east': 1, 'eu-west': 60, 'ap-southeast': 1 });
    const m = client('el-eu', { edge: eu.url, election: { samples: 2, intervalMs: 300, linkSampleMs: 0 } });
    expect((await m.c.connected()).region).toBe('eu-west');
    await waitFor(() => m.elections.filter((e) => e.trigger === 'interval').length >= 2, 'two periodic re-elections', 10_000);
    for (const e of m.elections) expect(e.result.ranked.map((c) => c.region)).toEqual(['eu-west']);
    expect(m.c.welcome?.region).toBe('eu-west');
  }, 30_000);

  it('follows migrate to the fastest allowed region, not the node\'s suggestion, make-before-break: nothing lost, no presence flap', async () => {
    // The draining us-east node suggests eu-west (the nearest region to it); to this client
    // ap-southeast is faster, by more than minGainMs.
    setLatencies({ 'us-east': 2, 'eu-west': 25, 'ap-southeast': 8 });
    const peer = new MeridianClient({ url: d.wsUrl('eu-west'), user: 'el-mig-peer' });
    clients.push(peer);
    const peerRec = new Recorder(peer);
    const m = client('el-migrant', { election: { samples: 2, linkSampleMs: 0, intervalMs: 0 } });
    const migrates: MigrateFrame[] = [];
    m.c.on('migrate', (f) => migrates.push(f));
    // Where the client is when the migrate election is reported: after the move, not before.
    const regionAtReport: (string | undefined)[] = [];
    m.c.on('election', (e) => {
      if (e.trigger === 'migrate') regionAtReport.push(m.c.welcome?.region);
    });
    const w = await m.c.connected();
    expect(w.region).toBe('us-east');
    await m.c.join('el-mig-room');
    await peer.connected();
    await peer.subscribePresence({ user: 'el-migrant' });
    await peer.subscribePresence({ room: 'el-mig-room' });

    let sent = 0;
    const sending = (async () => {
      for (let i = 0; i < 40; i++) {
        await peer.send({ user: 'el-migrant' }, { i });
        sent++;
        await sleep(40);
      }
    })();
    await sleep(300);
    const drained = d.drainRegion('us-east');
    try {
      await waitFor(() => m.c.welcome?.region === 'ap-southeast', () => `a move to ap-southeast (now ${m.c.welcome?.region}; elections: ${JSON.stringify(m.elections.map((e) => [e.trigger, e.decision, e.region, e.why]))})`, 15_000);
      await sending;
    } finally {
      await drained;
    }
    expect(migrates.map((f) => [f.reason, f.suggestedRegion])).toEqual([['drain', 'eu-west']]);
    expect(m.c.welcome?.node).not.toBe(w.node);
    const conv = dmConversation('el-migrant', 'el-mig-peer');
    await m.r.count(conv, sent, 10_000);
    expect(m.r.seqs(conv)).toEqual([...new Set(m.r.seqs(conv))]);
    expect(m.r.bodies(conv)).toEqual(Array.from({ length: sent }, (_, i) => ({ i })));
    expect(m.r.lost).toEqual([]);
    expect(m.r.resumed.filter((x) => !x.recovered)).toEqual([]);
    // One election for the migrate, reported with its outcome, once the client was on the new link.
    await waitFor(() => regionAtReport.length > 0, 'the migrate election reported', 5000);
    const reports = m.elections.filter((e) => e.trigger === 'migrate');
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ decision: 'switch', region: 'ap-southeast', current: 'us-east' });
    expect(regionAtReport).toEqual(['ap-southeast']);
    expect(m.c.stats.connects).toBe(2);
    await sleep(500);
    const flaps = peerRec.presence.filter((e) => e.user === 'el-migrant' && (e.event === 'offline' || e.event === 'leave'));
    expect(flaps).toEqual([]);
    // us-east restarted in place: healthy again for the next tests.
    await waitFor(() => edge.monitor.all().every((h) => h.healthy), 'every region healthy at the edge again', 15_000);
  }, 45_000);

  it('fails clearly when no transport can connect at all', async () => {
    const c = new MeridianClient({ user: 'el-nowhere', edge: 'http://127.0.0.1:9', election: { timeoutMs: 1000 } });
    const seen: Error[] = [];
    c.on('unreachable', (e) => seen.push(e));
    const err = await c.connected().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClientUnreachableError);
    const u = err as ClientUnreachableError;
    expect(u.code).toBe('CLIENT_UNREACHABLE');
    expect(u.attempts.map((a) => a.region ?? 'url')).toEqual(['edge', 'url']);
    expect(u.attempts[1]?.url).toBe('ws://127.0.0.1:9/ws');
    expect(seen).toHaveLength(1);
    await c.close();
  });
});
