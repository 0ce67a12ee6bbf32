// The proxies' piping (src/http/proxy.ts) between real servers on 127.0.0.1: a whole answer is
// relayed whole, an answer the upstream cuts short cuts the caller's too, and a caller's body
// reaches the upstream.
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { pipeBodyOnConnect, relayAnswer } from '../../src/http/proxy.js';
import { serve } from './server.js';
import type { TestServer } from './server.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A proxy in front of `upstream`: streams the caller's body there once connected, relays the answer. */
async function proxyTo(upstream: TestServer): Promise<TestServer> {
  const p = await serve(
    (req, res) =>
      new Promise<void>((done) => {
        const up = request(`${upstream.url}${req.url}`, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' } });
        pipeBodyOnConnect(req, up, () => {});
        up.on('response', (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, { 'content-type': 'text/plain', ...(upRes.headers['content-length'] ? { 'content-length': upRes.headers['content-length'] } : {}) });
          void relayAnswer(upRes, res).then(done);
        });
        up.on('error', () => {
          if (!res.headersSent) res.writeHead(502).end();
          done();
        });
      }),
  );
  servers.push(p);
  return p;
}

/** GET or POST through `url`: the status and body as received, or the transfer error. */
function call(url: string, body?: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', agent: false }, (res: IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', (err) => resolve({ error: err.message }));
      res.on('aborted', () => resolve({ error: 'aborted' }));
    });
    req.on('error', (err) => resolve({ error: err.message }));
    req.end(body);
  });
}

describe('proxy piping', () => {
  it('relays a whole answer whole, and streams the caller\'s body to the upstream', async () => {
    const upstream = await serve(async (req, res) => {
      let got = '';
      for await (const c of req) got += (c as Buffer).toString();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`got ${got.length}: ${got.slice(0, 5)}`);
    });
    servers.push(upstream);
    const p = await proxyTo(upstream);
    expect(await call(`${p.url}/x`, 'hello'.repeat(20_000))).toEqual({ status: 200, body: 'got 100000: hello' });
    expect(await call(`${p.url}/x`)).toEqual({ status: 200, body: 'got 0: ' });
  });

  it('cuts the caller\'s answer when the upstream cuts its body short (a failed transfer, never a short one)', async () => {
    const upstream = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
      res.write('x'.repeat(100));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    servers.push(upstream);
    const p = await proxyTo(upstream);
    const r = await call(`${p.url}/x`);
    expect('error' in r).toBe(true);
  });
});
