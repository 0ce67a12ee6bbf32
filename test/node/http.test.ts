// The node's HTTP surface: health and readiness, /v1/regions, server-side sends, presence and
// history reads, typed JSON errors, HTTP modules, the demo page.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../../src/protocol/mod.js';
import type { HttpModule } from '../../src/module/http-module.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient } from './client.js';
import { SECRET, hsToken, oneRegion, threeRegions } from './fixtures.js';

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe('a dev-mode deployment', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:' });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('answers /health and /ready', async () => {
    const h = await fetch(`${d.urls['us-east']}/health`);
    expect(h.status).toBe(200);
    expect(await json(h)).toMatchObject({ status: 'ok', region: 'us-east' });
    const r = await fetch(`${d.urls['us-east']}/ready`);
    expect(r.status).toBe(200);
    expect(await json(r)).toMatchObject({ ready: true });
  });

  it('names its region on every answer it writes: JSON, errors, the demo page and the WebSocket 101', async () => {
    for (const path of ['/health', '/ready', '/nope', '/ws', '/']) expect((await fetch(`${d.urls['eu-west']}${path}`)).headers.get('x-meridian-region'), path).toBe('eu-west');
    const ws = new WebSocket(d.wsUrl('ap-southeast'), SUBPROTOCOL);
    const upgrade = await new Promise<IncomingMessage>((resolve, reject) => {
      ws.once('upgrade', resolve);
      ws.once('error', reject);
    });
    expect(upgrade.headers['x-meridian-region']).toBe('ap-southeast');
    ws.close();
  });

  it('shows every region of the topology with its live state in /v1/regions', async () => {
    const c = await TestClient.dev(d.wsUrl('eu-west'), 'someone');
    const body = await json(await fetch(`${d.urls['us-east']}/v1/regions`));
    const rows = body['regions'] as { name: string; self: boolean; reachable: boolean; url: string; nodes: { sessions: number; draining: boolean }[] }[];
    expect(rows.map((r) => r.name)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    expect(rows.every((r) => r.reachable)).toBe(true);
    expect(rows[0]!.self).toBe(true);
    expect(rows[1]).toMatchObject({ url: d.urls['eu-west'], nodes: [{ sessions: 1, draining: false }] });
    await c.close();
  });

  it('sends from HTTP like a client send (dev mode names the sender), delivered over WebSocket', async () => {
    const bob = await TestClient.dev(d.wsUrl('ap-southeast'), 'h-bob');
    const post = (body: unknown) => fetch(`${d.urls['us-east']}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const res = await post({ from: 'h-alice', to: { user: 'h-bob' }, body: { text: 'from http' }, clientMsgId: 'h1' });
    expect(res.status).toBe(201);
    const ack = await json(res);
    expect(ack).toMatchObject({ conversation: 'dm:h-alice:h-bob', seq: 1, duplicate: false });
    expect(await bob.next('message')).toMatchObject({ from: 'h-alice', body: { text: 'from http' }, messageId: ack['messageId'] });
    const again = await post({ from: 'h-alice', to: { user: 'h-bob' }, body: { text: 'from http' }, clientMsgId: 'h1' });
    expect(again.status).toBe(200);
    expect(await json(again)).toMatchObject({ seq: 1, duplicate: true });
    // The same validation as a frame.
    const bad = await post({ from: 'h-alice', to: { user: 7 }, body: 1, clientMsgId: 'h2' });
    expect(bad.status).toBe(400);
    expect(await json(bad)).toMatchObject({ error: { code: 'INVALID_FIELD' } });
    const noFrom = await post({ to: { user: 'h-bob' }, body: 1, clientMsgId: 'h3' });
    expect(noFrom.status).toBe(400);
    const big = await post({ from: 'h-alice', to: { user: 'h-bob' }, body: 'x'.repeat(70_000), clientMsgId: 'h4' });
    expect(big.status).toBe(413);
    const huge = await post({ from: 'h-alice', to: { user: 'h-bob' }, body: 'x'.repeat(200_000), clientMsgId: 'h5' });
    expect(huge.status).toBe(413);
    const notJson = await fetch(`${d.urls['us-east']}/v1/messages`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    const get = await fetch(`${d.urls['us-east']}/v1/messages`);
    expect(get.status).toBe(405);
    await bob.close();
  });

  it('serves history with after and limit, and refuses bad parameters', async () => {
    const post = (i: number) => fetch(`${d.urls['eu-west']}/v1/messages`, { method: 'POST', body: JSON.stringify({ from: 'hist-a', to: { room: 'hist' }, body: i, clientMsgId: `k${i}` }) });
    for (let i = 1; i <= 5; i++) expect((await post(i)).status).toBe(201);
    const page = await json(await fetch(`${d.urls['ap-southeast']}/v1/conversations/room%3Ahist/messages?after=2&limit=2`));
    expect(page).toMatchObject({ conversation: 'room:hist', lastSeq: 5, firstAvailable: 1 });
    expect((page['messages'] as { seq: number; body: number }[]).map((m) => [m.seq, m.body])).toEqual([[3, 3], [4, 4]]);
    for (const q of ['after=-1', 'limit=0', 'limit=1001', 'after=x']) {
      const r = await fetch(`${d.urls['ap-southeast']}/v1/conversations/room%3Ahist/messages?${q}`);
      expect(r.status, q).toBe(400);
    }
    expect((await fetch(`${d.urls['ap-southeast']}/v1/conversations/dm%3Ab%3Aa/messages`)).status).toBe(400);
  });

  it('answers 404 as JSON for unknown paths, 426 for a plain GET of /ws, and serves the demo page', async () => {
    const r = await fetch(`${d.urls['us-east']}/nope`);
    expect(r.status).toBe(404);
    expect(await json(r)).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await fetch(`${d.urls['us-east']}/ws`)).status).toBe(426);
    const page = await fetch(`${d.urls['us-east']}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('meridian.v1');
    expect(html).toContain('us-east');
  });
});

describe('a node with tokens and a module', () => {
  let d: Deployment;
  let readyFlag = true;
  const mod: HttpModule = {
    name: 'echo',
    handle(_req: IncomingMessage, res: ServerResponse, url: URL) {
      if (url.pathname !== '/v1/echo') return false;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('echo');
      return true;
    },
    ready: () => readyFlag,
  };
  beforeAll(async () => {
    d = await startEmbeddedDeployment(oneRegion(), { dataDir: ':memory:', region: { node: { auth: { hs256Secret: SECRET } }, modules: () => [mod] } });
  });
  afterAll(async () => {
    await d?.close();
  });
  const base = () => d.urls['solo']!;

  it('needs a Bearer token for reads and sends (401), and checks capabilities (403)', async () => {
    expect((await fetch(`${base()}/v1/presence/alice`)).status).toBe(401);
    const token = await hsToken({ sub: 'alice', rooms: ['ok-*'] });
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`${base()}/v1/presence/alice`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect(await json(await fetch(`${base()}/v1/presence/alice`, { headers: auth }))).toMatchObject({ user: 'alice', online: false, connections: 0 });
    expect((await fetch(`${base()}/v1/rooms/secret/presence`, { headers: auth })).status).toBe(403);
    expect((await fetch(`${base()}/v1/rooms/ok-1/presence`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${base()}/v1/conversations/dm%3Abob%3Acarol/messages`, { headers: auth })).status).toBe(403);
    const send = (body: unknown) => fetch(`${base()}/v1/messages`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    expect((await send({ to: { room: 'secret' }, body: 1, clientMsgId: 'a' })).status).toBe(403);
    expect((await send({ from: 'bob', to: { user: 'carol' }, body: 1, clientMsgId: 'a' })).status).toBe(403);
    const ok = await send({ to: { room: 'ok-1' }, body: 1, clientMsgId: 'a' });
    expect(ok.status).toBe(201);
    expect((await fetch(`${base()}/v1/messages`, { method: 'POST', body: '{}' })).status).toBe(401);
  });

  it('offers other requests to its modules and is not ready while a module is not', async () => {
    expect(await (await fetch(`${base()}/v1/echo`)).text()).toBe('echo');
    readyFlag = false;
    expect((await fetch(`${base()}/ready`)).status).toBe(503);
    readyFlag = true;
    expect((await fetch(`${base()}/ready`)).status).toBe(200);
  });
});
