/**
 * The services module over real sockets on the embedded bus: registration (token, validation),
 * heartbeat and deregistration, listings in local-first order, and the proxy's local-first
 * choice, typed errors, body limit, streaming both ways and host safety.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { register, seesEndpoints, standIn, startMesh, TOKEN } from './mesh-env.js';
import type { Mesh, StandIn } from './mesh-env.js';

const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

describe('services module (embedded bus, real sockets)', () => {
  let mesh: Mesh;
  const stands: StandIn[] = [];
  beforeAll(async () => {
    mesh = await startMesh({ kind: 'embedded', extraTopology: 'services:\n  declared-only: {}\n', module: { limits: { maxBodyBytes: 1024 * 1024, retryBufferBytes: 1024 } } });
  });
  afterAll(async () => {
    await Promise.all(stands.map((s) => s.close()));
    await mesh.close();
  });
  const stand = async (region: string, reply = (_r: IncomingMessage): string => region): Promise<StandIn> => {
    const s = await standIn((req, res) => {
      const body = reply(req);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-path': req.url ?? '' }).end(body);
    });
    stands.push(s);
    return s;
  };

  it('refuses registrations without a valid token (401) and lists every problem of a bad one (400)', async () => {
    const us = mesh.url('us-east');
    const none = await fetch(`${us}/v1/workers`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('SVC_UNAUTHORIZED');
    const wrong = await register(us, { id: 'w', services: [{ name: 'a', url: 'http://127.0.0.1:1' }] }, 'not-the-token-at-all');
    expect(wrong.status).toBe(401);
    const bad = await register(us, { id: 'bad id', services: [{ name: 'x', url: 'ftp://h/' }, { name: 'x', url: 'http://u:p@h' }], functions: [{ name: 'nope' }] });
    expect(bad.status).toBe(400);
    const err = ((await bad.json()) as { error: { code: string; details: { problems: Array<{ path: string }> } } }).error;
    expect(err.code).toBe('SVC_INVALID_REGISTRATION');
    expect(err.details.problems.map((p) => p.path)).toEqual(['id', 'services[0].url', 'services[1].name', 'services[1].url']);
    const heartbeatless = await fetch(`${us}/v1/workers/ghost/heartbeat`, { method: 'PUT', headers: auth, body: '{"inFlight":0}' });
    expect(heartbeatless.status).toBe(404);
    expect(((await heartbeatless.json()) as { error: { code: string } }).error.code).toBe('SVC_UNKNOWN_WORKER');
  });

  it('registers in one region, is seen and called from another, heartbeats, deregisters', async () => {
    const w = await stand('eu-west');
    const res = await register(mesh.url('eu-west'), { id: 'life-1', services: [{ name: 'life', url: w.url }] });
    expect(res.status).toBe(201);
    const lease = (await res.json()) as { region: string; heartbeatIntervalMs: number };
    expect(lease).toMatchObject({ region: 'eu-west', heartbeatIntervalMs: 5000 });
    await seesEndpoints(mesh, 'ap-southeast', 'life', 1);
    const call = await fetch(`${mesh.url('ap-southeast')}/v1/services/life/hello?x=1`);
    expect(call.status).toBe(200);
    expect(await call.text()).toBe('eu-west');
    expect(call.headers.get('x-meridian-region')).toBe('eu-west');
    expect(call.headers.get('x-meridian-worker')).toBe('life-1');
    expect(call.headers.get('x-meridian-via')).toBe('ap-southeast');
    expect(call.headers.get('x-path')).toBe('/hello?x=1');
    const hb = await fetch(`${mesh.url('us-east')}/v1/workers/life-1/heartbeat`, { method: 'PUT', headers: auth, body: JSON.stringify({ inFlight: 3, metrics: { gpu: 0.5 } }) });
    expect(hb.status).toBe(200);
    const del = await fetch(`${mesh.url('us-east')}/v1/workers/life-1`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(204);
    await seesEndpoints(mesh, 'ap-southeast', 'life', 0);
    const gone = await fetch(`${mesh.url('ap-southeast')}/v1/services/life/hello`);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('SVC_UNKNOWN_SERVICE');
  });

  it('lists endpoints local region first, then by RTT, and proxies local first', async () => {
    const ws = { us: await stand('us-east'), eu: await stand('eu-west'), ap: await stand('ap-southeast') };
    await register(mesh.url('us-east'), { id: 'lf-us', region: 'us-east', services: [{ name: 'lf', url: ws.us.url }] });
    await register(mesh.url('us-east'), { id: 'lf-eu', region: 'eu-west', services: [{ name: 'lf', url: ws.eu.url }] });
    await register(mesh.url('us-east'), { id: 'lf-ap', region: 'ap-southeast', services: [{ name: 'lf', url: ws.ap.url }] });
    for (const r of ['us-east', 'eu-west', 'ap-southeast']) await seesEndpoints(mesh, r, 'lf', 3);
    const list = (await (await fetch(`${mesh.url('ap-southeast')}/v1/services/lf/endpoints`)).json()) as { endpoints: Array<{ region: string }> };
    expect(list.endpoints.map((e) => e.region)).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    const fromUs = (await (await fetch(`${mesh.url('ap-southeast')}/v1/services/lf/endpoints?from=us-east`)).json()) as { endpoints: Array<{ region: string }> };
    expect(fromUs.endpoints.map((e) => e.region)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    for (const r of ['us-east', 'eu-west', 'ap-southeast']) {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${mesh.url(r)}/v1/services/lf/`);
        expect(await res.text()).toBe(r);
      }
    }
    const all = (await (await fetch(`${mesh.url('eu-west')}/v1/services`)).json()) as { services: Array<{ name: string; endpoints: number; regions: string[] }> };
    expect(all.services.find((s) => s.name === 'lf')).toMatchObject({ endpoints: 3, regions: ['ap-southeast', 'eu-west', 'us-east'] });
    expect(all.services.find((s) => s.name === 'declared-only')).toMatchObject({ endpoints: 0 });
    const state = (await (await fetch(`${mesh.url('eu-west')}/v1/services/lf`)).json()) as { endpoints: Array<{ workerId: string; breaker: string; ejection: { ejected: boolean } }>; policy: { timeoutMs: number } };
    expect(state.endpoints.map((e) => [e.workerId, e.breaker, e.ejection.ejected])).toEqual([
      ['lf-eu', 'closed', false],
      ['lf-us', 'closed', false],
      ['lf-ap', 'closed', false],
    ]);
    expect(state.policy.timeoutMs).toBe(15_000);
  });

  it('answers 503 with Retry-After for a known service with no healthy endpoint, 502 when the worker fails', async () => {
    const none = await fetch(`${mesh.url('us-east')}/v1/services/declared-only/x`);
    expect(none.status).toBe(503);
    expect(none.headers.get('retry-after')).toBe('1');
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('SVC_NO_ENDPOINTS');
    // A registered endpoint nobody listens on: connection refused → 502 once retries are spent.
    await register(mesh.url('us-east'), { id: 'dead-1', services: [{ name: 'dead', url: 'http://127.0.0.1:9' }] });
    await seesEndpoints(mesh, 'us-east', 'dead', 1);
    const bad = await fetch(`${mesh.url('us-east')}/v1/services/dead/x`, { method: 'POST', body: 'x' });
    expect(bad.status).toBe(502);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('SVC_UPSTREAM_FAILED');
  });

  it('refuses bodies over the limit with 413, declared or chunked', async () => {
    // A worker that reads the whole body before answering (one that answers early is relayed).
    const w = await standIn((req, res) => {
      req.resume();
      req.on('end', () => res.end('read it all'));
    });
    stands.push(w);
    await register(mesh.url('us-east'), { id: 'big-1', services: [{ name: 'big', url: w.url }] });
    await seesEndpoints(mesh, 'us-east', 'big', 1);
    const declared = await fetch(`${mesh.url('us-east')}/v1/services/big/up`, { method: 'POST', body: Buffer.alloc(1024 * 1024 + 1) });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: { code: string } }).error.code).toBe('SVC_BODY_TOO_LARGE');
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${mesh.url('us-east')}/v1/services/big/up`);
      const req = request({ hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < 2 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    }).catch(() => 413);
    expect(status).toBe(413);
    // A registration over its own limit is refused the same way.
    const reg = await fetch(`${mesh.url('us-east')}/v1/workers`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'x', services: [], pad: 'x'.repeat(300 * 1024) }) });
    expect(reg.status).toBe(413);
  });

  it('streams request and response bodies both ways', async () => {
    const echo = await standIn((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
    });
    stands.push(echo);
    await register(mesh.url('us-east'), { id: 'echo-1', services: [{ name: 'echo', url: echo.url }] });
    await seesEndpoints(mesh, 'us-east', 'echo', 1);
    const size = 512 * 1024;
    const body = Buffer.alloc(size, 7);
    // Chunked (no content-length): streamed, not buffered.
    const init = { method: 'PUT', body: Readable.from([body.subarray(0, size / 2), body.subarray(size / 2)]), duplex: 'half' };
    const res = await fetch(`${mesh.url('us-east')}/v1/services/echo/`, init as unknown as RequestInit);
    expect(res.status).toBe(200);
    const back = Buffer.from(await res.arrayBuffer());
    expect(back.length).toBe(size);
    expect(back.equals(body)).toBe(true);
  });

  it('only ever calls registered endpoints, whatever the path says', async () => {
    const w = await stand('us-east', (req) => `host=${req.headers.host} path=${req.url}`);
    await register(mesh.url('us-east'), { id: 'safe-1', services: [{ name: 'safe', url: `${w.url}/base` }] });
    await seesEndpoints(mesh, 'us-east', 'safe', 1);
    const host = new URL(w.url).host;
    const odd = await fetch(`${mesh.url('us-east')}/v1/services/safe//evil.example:80/x`);
    expect(await odd.text()).toBe(`host=${host} path=/base//evil.example:80/x`);
    const at = await fetch(`${mesh.url('us-east')}/v1/services/safe/@evil.example/`);
    expect(await at.text()).toBe(`host=${host} path=/base/@evil.example/`);
    // Dot segments are resolved by URL parsing before routing: this names service "admin".
    const up = await fetch(`${mesh.url('us-east')}/v1/services/safe/%2e%2e/admin`);
    expect(up.status).toBe(404);
    expect(w.hits).toBe(2);
    // The registration token never reaches a worker.
    const echoAuth = await stand('us-east', (req) => String(req.headers.authorization));
    await register(mesh.url('us-east'), { id: 'auth-1', services: [{ name: 'authecho', url: echoAuth.url }] });
    await seesEndpoints(mesh, 'us-east', 'authecho', 1);
    expect(await (await fetch(`${mesh.url('us-east')}/v1/services/authecho/`, { headers: { authorization: 'Bearer secret' } })).text()).toBe('undefined');
  });

  it('answers malformed paths with 400, never a crash', async () => {
    for (const path of ['/v1/services/%E0%A4%A/x', '/v1/workers/%zz', '/v1/dlq/%E0%A4%A']) {
      const res = await fetch(`${mesh.url('us-east')}${path}`, { headers: auth });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
    }
  });

  it('leaves other paths to other modules', () => {
    const mod = mesh.module('us-east');
    expect(mod.handle({} as never, {} as never, new URL('http://n/v1/rooms/x'), { caller: () => Promise.resolve({ kind: 'admin' }) })).toBe(false);
    expect(mod.handle({} as never, {} as never, new URL('http://n/v2/services'), { caller: () => Promise.resolve({ kind: 'admin' }) })).toBe(false);
  });
});
