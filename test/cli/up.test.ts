// `meridian up` and `meridian region` as a newcomer runs them: real processes, free ports, the
// JSON line, messages across regions and through the edge, a region taken down by the edge's
// admin endpoint, and a clean exit on SIGTERM.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { TestClient, eventually } from '../node/client.js';
import { SECRET, hsToken } from '../node/fixtures.js';

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

describe('meridian up --json', () => {
  let p: Proc;
  let info: { regions: Record<string, string>; edge: string; workerToken: string; adminToken: string; adminKeyId: string; keysFile: string };
  beforeAll(async () => {
    p = start(['up', '--port-base', '0', '--json']);
    await eventually(() => p.out().includes('\n') || p.child.exitCode !== null, 'the JSON line', 30_000);
    info = JSON.parse(p.out()) as typeof info;
  }, 40_000);
  afterAll(() => {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  });

  it('prints exactly one JSON line with every region, the edge and a worker token', () => {
    expect(p.out().trim().split('\n')).toHaveLength(1);
    expect(Object.keys(info.regions)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    expect(info.edge).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.workerToken.length).toBeGreaterThanOrEqual(32);
    expect(info.adminToken.length).toBeGreaterThanOrEqual(32);
    expect(info.adminToken).not.toBe(info.workerToken);
    expect(p.err()).toContain('ready.');
  });

  it('makes its admin token an API key with every scope in its keys file, stored hashed', async () => {
    expect(info.adminToken.startsWith(`mrd_${info.adminKeyId}_`)).toBe(true);
    const file = readFileSync(info.keysFile, 'utf8');
    expect(file).toContain(info.adminKeyId);
    expect(file).not.toContain(info.adminToken);
    let out = '';
    expect(await main(['keys', 'list', '--file', info.keysFile, '--json'], { out: (s) => void (out += s), err: () => undefined })).toBe(0);
    expect((JSON.parse(out) as { keys: unknown[] }).keys).toEqual([expect.objectContaining({ id: info.adminKeyId, scopes: ['admin', 'send', 'services', 'dlq', 'erase'] })]);
    // The nodes take it too: the audit trail is an admin endpoint.
    expect((await fetch(`${info.regions['us-east']}/v1/audit`, { headers: { authorization: `Bearer ${info.adminToken}` } })).status).toBe(200);
  });

  it('carries a direct message across regions, and through the edge', async () => {
    const alice = await TestClient.dev(`${info.regions['us-east']!.replace('http', 'ws')}/ws`, 'alice');
    const bob = await TestClient.dev(`${info.edge.replace('http', 'ws')}/ws`, 'bob');
    await alice.request({ type: 'send', id: 's', to: { user: 'bob' }, body: { text: 'hi' }, clientMsgId: 'k' });
    expect(await bob.next('message')).toMatchObject({ from: 'alice', body: { text: 'hi' } });
    await alice.close();
    await bob.close();
  });

  it('mounts the service mesh: a worker registered in eu-west with the printed token is called from us-east', async () => {
    const worker = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, served: 'w1' }));
    });
    await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
      const body = JSON.stringify({ id: 'w1', services: [{ name: 'echo', url }] });
      const denied = await fetch(`${info.regions['eu-west']}/v1/workers`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-token-wrong-token' }, body });
      expect(denied.status).toBe(401);
      const reg = await fetch(`${info.regions['eu-west']}/v1/workers`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${info.workerToken}` }, body });
      expect(reg.status).toBe(201);
      let res: Response | undefined;
      await eventually(async () => {
        res = await fetch(`${info.regions['us-east']}/v1/services/echo/hello?x=1`);
        return res.status === 200;
      }, 'us-east to see the worker registered in eu-west');
      expect(await res!.json()).toEqual({ path: '/hello?x=1', served: 'w1' });
      expect(res!.headers.get('x-meridian-region')).toBe('eu-west');
    } finally {
      await new Promise((r) => worker.close(r));
    }
  });

  it('takes a region down through the edge admin endpoint, and brings it back', async () => {
    const url = info.regions['ap-southeast']!;
    const c = await TestClient.dev(`${url.replace('http', 'ws')}/ws`, 'carol');
    // The admin endpoints need the admin token meridian up printed (not the worker token).
    expect((await fetch(`${info.edge}/v1/admin/regions/ap-southeast/down`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${info.edge}/v1/admin/regions/ap-southeast/down`, { method: 'POST', headers: { authorization: `Bearer ${info.workerToken}` } })).status).toBe(401);
    expect((await fetch(`${info.edge}/v1/admin/regions/ap-southeast/down`, { method: 'POST', headers: { authorization: `Bearer ${info.adminToken}` } })).status).toBe(202);
    expect((await c.closed).code).toBe(1006);
    await expect(fetch(`${url}/ready`)).rejects.toThrow();
    expect((await fetch(`${info.edge}/v1/admin/regions/ap-southeast/up`, { method: 'POST', headers: { authorization: `Bearer ${info.adminToken}` } })).status).toBe(202);
    await eventually(async () => (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200, 'ap-southeast back');
    // The edge's own audit trail (in the data dir) names the key that took the region down and up.
    const trail = (await (await fetch(`${info.edge}/v1/audit?action=region.`, { headers: { authorization: `Bearer ${info.adminToken}` } })).json()) as { entries: { action: string; outcome: string; actor: { id?: string } }[] };
    expect(trail.entries.filter((e) => e.outcome === 'ok').map((e) => [e.action, e.actor.id])).toEqual([['region.up', info.adminKeyId], ['region.down', info.adminKeyId]]);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.err()).toContain('draining and stopping');
  }, 20_000);
});

describe('meridian region', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-region-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves one region with JWT auth from the environment, keeps its log in --data, and drains on SIGTERM', async () => {
    // A topology of this one region: in the three-region default, a lone region cannot write
    // (conversations are homed across all three, and a home writes only while a majority of
    // regions confirm nobody took it over).
    const config = join(dir, 'one-region.yaml');
    writeFileSync(config, 'version: 1\nregions:\n  - name: eu-west\n    location: { lat: 53.35, lon: -6.26, city: Dublin }\n    jurisdiction: EU\n');
    const p = start(['region', 'eu-west', '--config', config, '--port', '0', '--data', dir], { MERIDIAN_AUTH_SECRET: SECRET });
    await eventually(() => p.out().includes('ready.') || p.child.exitCode !== null, 'the region to listen', 30_000);
    const url = /listening on (http:\/\/[\d.:]+)/.exec(p.out())?.[1];
    expect(url, p.out() + p.err()).toBeDefined();
    const dev = await TestClient.open(`${url!.replace('http', 'ws')}/ws`);
    dev.send({ type: 'auth', id: 'a', user: 'anon' });
    expect((await dev.closed).code).toBe(4750);
    const c = await TestClient.token(`${url!.replace('http', 'ws')}/ws`, await hsToken({ sub: 'alice' }));
    expect(await c.request({ type: 'send', id: 's', to: { user: 'bob' }, body: 1, clientMsgId: 'k' })).toMatchObject({ type: 'ack', seq: 1 });
    p.child.kill('SIGTERM');
    // Alone in its topology (no other region ready) there is nowhere to migrate to: no
    // `migrate`, a 4500 close that says so.
    const closed = await c.closed;
    expect(closed).toMatchObject({ code: 4500 });
    expect(closed.reason).toMatch(/nowhere to migrate/);
    expect(c.frames.some((f) => f.type === 'migrate')).toBe(false);
    expect(await p.exited).toBe(0);
    expect(p.out()).toContain('stopped');
    const again = start(['region', 'eu-west', '--config', config, '--port', '0', '--data', dir], { MERIDIAN_AUTH_SECRET: SECRET });
    await eventually(() => again.out().includes('ready.') || again.child.exitCode !== null, 'the region to listen again', 30_000);
    const url2 = /listening on (http:\/\/[\d.:]+)/.exec(again.out())?.[1];
    // The log outlived the process: the conversation goes on from seq 1.
    const c2 = await TestClient.token(`${url2!.replace('http', 'ws')}/ws`, await hsToken({ sub: 'alice' }));
    expect(await c2.request({ type: 'send', id: 's', to: { user: 'bob' }, body: 2, clientMsgId: 'k2' })).toMatchObject({ type: 'ack', seq: 2 });
    await c2.close();
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 60_000);
});
