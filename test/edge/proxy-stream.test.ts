// Streaming edge cases of the HTTP proxy, against a real node:http region: a body the region
// cuts short reaches the client as a failed transfer (never as a short, clean one), a client
// that goes away mid-body closes the upstream request, an upstream that never answers is a
// typed 504, and sequential requests reuse one keep-alive upstream connection.
import { createServer, request } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { three } from './fixtures.js';
import { eventually } from './stand-in.js';

interface Got {
  readonly status: number;
  readonly body: string;
  readonly outcome: 'end' | 'error';
}

function get(url: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, outcome: 'end' }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body, outcome: 'error' }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('edge HTTP proxy - streaming and upstream connections', () => {
  let region: Server;
  let edge: Edge;
  let streamClosed = false;
  const proxiedSockets = new Set<Socket>();

  beforeAll(async () => {
    region = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/ready') return void res.writeHead(200).end();
      proxiedSockets.add(req.socket);
      if (req.url === '/v1/cut') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 100 });
        res.write('0123456789');
        setTimeout(() => req.socket.destroy(), 30);
        return;
      }
      if (req.url === '/v1/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write('tick\n'), 10);
        res.on('close', () => {
          clearInterval(timer);
          streamClosed = true;
        });
        return;
      }
      if (req.url === '/v1/hang') return; // never answers
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 }).end('{"ok":true}');
    });
    await new Promise<void>((r) => region.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(region.address() as AddressInfo).port}`;
    edge = await startEdge({ topology: three, regionUrls: { 'us-east': url }, port: 0, geoip: null, rateLimit: false, proxyTimeoutMs: 300 });
  });
  afterAll(async () => {
    await edge.close();
    await new Promise<void>((r) => {
      region.close(() => r());
      region.closeAllConnections();
    });
  });

  it('passes a body the region cuts short on as a failed transfer', async () => {
    const got = await get(`${edge.url}/v1/cut`);
    expect(got.status).toBe(200);
    expect(got.body).toBe('0123456789');
    expect(got.outcome).toBe('error');
  });

  it('closes the upstream request when the client goes away mid-body', async () => {
    streamClosed = false;
    await new Promise<void>((resolve, reject) => {
      const req = request(`${edge.url}/v1/stream`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', () => resolve());
      setTimeout(() => reject(new Error('no body')), 2000).unref();
      req.end();
    });
    expect(await eventually(() => (streamClosed ? true : undefined), 2000)).toBe(true);
  });

  it('answers 504 with a typed body when the region does not answer in time', async () => {
    const got = await get(`${edge.url}/v1/hang`);
    expect(got.status).toBe(504);
    expect(JSON.parse(got.body)).toEqual({ error: { code: 'EDGE_UPSTREAM_TIMEOUT', message: 'region us-east did not answer in time' } });
  });

  it('reuses one keep-alive upstream connection for sequential requests', async () => {
    proxiedSockets.clear();
    for (let i = 0; i < 30; i++) {
      const got = await get(`${edge.url}/v1/ping`);
      expect(got).toEqual({ status: 200, body: '{"ok":true}', outcome: 'end' });
    }
    expect(proxiedSockets.size).toBe(1);
  });
});
