// The edge reads its allowed browser origins from the topology's `origins:` when no `cors` is
// given (`--cors`): CORS answers and the WebSocket origin check follow it, `*` answers any origin
// without credentials, and a given `cors` wins. Against real stand-in regions on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { three } from './fixtures.js';
import { standIns, urlsOf } from './stand-in.js';
import type { StandIn } from './stand-in.js';

let regions: Record<string, StandIn>;
const edges: Edge[] = [];

beforeAll(async () => {
  regions = await standIns(['us-east', 'eu-west', 'ap-southeast']);
});
afterAll(async () => {
  await Promise.all(edges.map((e) => e.close()));
  await Promise.all(Object.values(regions).map((r) => r.stop()));
});

async function edgeWith(origins: string[] | undefined, cors?: { origins: string[] | '*'; credentials: boolean }): Promise<Edge> {
  const e = await startEdge({ topology: { ...three, ...(origins === undefined ? {} : { origins }) }, regionUrls: urlsOf(regions), port: 0, geoip: null, rateLimit: false, ...(cors === undefined ? {} : { cors }) });
  edges.push(e);
  return e;
}

const preflight = (e: Edge, origin: string): Promise<Response> => fetch(`${e.url}/v1/things`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });

/** The upgrade's status: 101 when the edge bridged it to a region, else its refusal. */
function upgrade(e: Edge, origin: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${e.url.replace('http', 'ws')}/ws`, { headers: { origin } });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_q, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', () => resolve(0));
  });
}

describe('edge origins from the topology', () => {
  it('a listed origin gets CORS with credentials and a WebSocket; another gets 403 for both', async () => {
    const e = await edgeWith(['https://app.example']);
    const ok = await preflight(e, 'https://app.example');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    const bad = await preflight(e, 'https://evil.example');
    expect(bad.status).toBe(403);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('EDGE_ORIGIN_NOT_ALLOWED');
    expect(await upgrade(e, 'https://app.example')).toBe(101);
    expect(await upgrade(e, 'https://evil.example')).toBe(403);
  });

  it('"*" answers any origin, never with credentials', async () => {
    const e = await edgeWith(['*']);
    const r = await preflight(e, 'https://anyone.example');
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
    expect(await upgrade(e, 'https://anyone.example')).toBe(101);
  });

  it('a given cors (--cors) wins over the topology', async () => {
    const e = await edgeWith(['https://app.example'], { origins: ['https://other.example'], credentials: true });
    expect((await preflight(e, 'https://app.example')).status).toBe(403);
    expect((await preflight(e, 'https://other.example')).status).toBe(204);
    expect(await upgrade(e, 'https://app.example')).toBe(403);
  });

  it('without origins anywhere: no CORS headers of its own and WebSockets from any origin', async () => {
    const e = await edgeWith(undefined);
    const r = await fetch(`${e.url}/v1/things`, { headers: { origin: 'https://evil.example' } });
    await r.text();
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
    expect(await upgrade(e, 'https://evil.example')).toBe(101);
  });
});
