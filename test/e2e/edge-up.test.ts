/**
 * The edge of issue 4 end to end, against `meridian up` as a real child process (every region
 * and the edge, embedded bus, free ports, `--json`): route decisions for clients in different
 * countries, a region taken down through the admin endpoint leaving new routes within 2 s and
 * coming back with hysteresis, one failover of an idempotent proxied request, and WebSocket
 * clients through the edge that carry messages and stay connected meanwhile.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { MeridianClient } from '../../src/client/node.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { Recorder, sleep, waitFor } from './helpers.js';

interface UpInfo {
  regions: Record<string, string>;
  edge: string;
  adminToken: string;
}

let child: ChildProcess;
let info: UpInfo;
let stderr = '';
const clients: MeridianClient[] = [];

async function startUp(): Promise<UpInfo> {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--port-base', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(() => out.includes('\n') || child.exitCode !== null, () => `meridian up to print its JSON line (stderr: ${stderr})`, 30_000);
  const lines = out.trim().split('\n');
  expect(lines).toHaveLength(1); // --json: exactly one line on stdout
  return JSON.parse(lines[0]!) as UpInfo;
}

async function route(query: string): Promise<{ status: number; body: { region: string | null; reason: string; candidates: { region: string; excluded?: string }[] } }> {
  const res = await fetch(`${info.edge}/v1/route?${query}`);
  return { status: res.status, body: (await res.json()) as never };
}

const edgeWs = (): string => `${info.edge.replace(/^http/, 'ws')}/ws`;

beforeAll(async () => {
  info = await startUp();
}, 40_000);

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  if (child && child.exitCode === null) {
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});

describe('edge end to end with meridian up', () => {
  let wsClient: MeridianClient;
  let wsRec: Recorder;
  let wsRegion: string;

  it('opens WebSockets through the edge to the steered region', async () => {
    wsClient = new MeridianClient({ url: edgeWs(), user: 'edge-ann' });
    clients.push(wsClient);
    wsRec = new Recorder(wsClient);
    const w = await wsClient.connected();
    wsRegion = w.region;
    expect(Object.keys(info.regions)).toContain(wsRegion);
  });

  it('routes clients placed in different countries by the topology rules', async () => {
    const cases: [string, string][] = [
      ['country=US', 'us-east'],
      ['country=CA', 'us-east'],
      ['country=GB', 'eu-west'],
      ['country=DE', 'eu-west'], // EU: strict residency
      ['country=SG', 'ap-southeast'],
      ['country=VN', 'ap-southeast'],
      ['ip=8.8.8.8', 'us-east'], // GeoIP: US
      ['lat=35.68&lon=139.69', 'ap-southeast'], // Tokyo by distance
    ];
    for (const [q, region] of cases) {
      const r = await route(q);
      expect(r.status, q).toBe(200);
      expect(r.body.region, q).toBe(region);
      expect(r.body.candidates.map((c) => c.region).sort()).toEqual(Object.keys(info.regions).sort());
    }
    const de = await route('country=DE');
    expect(de.body.candidates.filter((c) => c.excluded === 'residency:gdpr').map((c) => c.region).sort()).toEqual(['ap-southeast', 'us-east']);
    expect((await route('country=1x')).status).toBe(400);
    expect((await route('lat=91&lon=0')).status).toBe(400);
  });

  it('takes a region down (new routes leave it within 2 s, an idempotent call fails over once) and brings it back with hysteresis', async () => {
    // Not the region the WebSocket above is on: that one must stay connected throughout.
    const victim = ['eu-west', 'us-east', 'ap-southeast'].find((r) => r !== wsRegion)!;
    const near: Record<string, string> = { 'us-east': 'lat=39&lon=-77', 'eu-west': 'lat=53&lon=-6', 'ap-southeast': 'lat=1.3&lon=103.8' };
    expect((await route(near[victim]!)).body.region).toBe(victim);
    const probe = ((await (await fetch(`${info.edge}/v1/regions`)).json()) as { probe: { intervalMs: number; upAfter: number } }).probe;

    const t0 = Date.now();
    const down = await fetch(`${info.edge}/v1/admin/regions/${victim}/down`, { method: 'POST', headers: { authorization: `Bearer ${info.adminToken}` } });
    expect(down.status).toBe(202);
    // At once, before the monitor has noticed: affinity pins both calls to the dead region.
    const pinned = { 'x-meridian-region': victim };
    const [get, post] = await Promise.all([
      fetch(`${info.edge}/v1/presence/edge-nobody`, { headers: pinned }),
      fetch(`${info.edge}/v1/messages`, { method: 'POST', headers: { ...pinned, 'content-type': 'application/json' }, body: JSON.stringify({ from: 'a', to: { user: 'b' }, body: 1, clientMsgId: 'x' }) }),
    ]);
    const postBody = await post.text();
    if (post.headers.get('x-meridian-region') === victim) {
      // The edge did send them to the dead region: GET was retried elsewhere, POST was not.
      expect(post.status, postBody).toBe(502);
      expect(get.status).toBe(200);
      expect(get.headers.get('x-meridian-region')).not.toBe(victim);
    } else {
      throw new Error(`the monitor excluded ${victim} before the first call (${Date.now() - t0} ms): the failover was not exercised`);
    }

    await waitFor(async () => (await route(near[victim]!)).body.region !== victim, `routes to leave ${victim}`, 5000, 25);
    const excludedAfter = Date.now() - t0;
    expect(excludedAfter).toBeLessThanOrEqual(2000 + 500);
    const r = await route(near[victim]!);
    expect(r.body.candidates.find((c) => c.region === victim)?.excluded).toBeDefined();

    const t1 = Date.now();
    expect((await fetch(`${info.edge}/v1/admin/regions/${victim}/up`, { method: 'POST', headers: { authorization: `Bearer ${info.adminToken}` } })).status).toBe(202);
    expect((await route(near[victim]!)).body.region).not.toBe(victim); // not on the first good probe
    await waitFor(async () => (await route(near[victim]!)).body.region === victim, `${victim} to come back`, 10_000, 25);
    // Hysteresis: `upAfter` consecutive good probes, `intervalMs` apart.
    expect(Date.now() - t1).toBeGreaterThanOrEqual((probe.upAfter - 1) * probe.intervalMs * 0.8);
  });

  it('carries messages over WebSockets through the edge, without a reconnect meanwhile', async () => {
    const bob = new MeridianClient({ url: edgeWs(), user: 'edge-bob' });
    clients.push(bob);
    const bobRec = new Recorder(bob);
    await bob.connected();
    const conv = dmConversation('edge-ann', 'edge-bob');
    await wsClient.send({ user: 'edge-bob' }, 'through the edge');
    await bob.send({ user: 'edge-ann' }, 'and back');
    await bobRec.count(conv, 1);
    await wsRec.count(conv, 1);
    await sleep(100);
    expect(wsRec.statuses.map((s) => s.type)).toEqual(['connected']);
    expect(wsClient.rttMs === undefined || wsClient.rttMs >= 0).toBe(true);
  });
});
