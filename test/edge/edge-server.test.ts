// The edge server against three real stand-in regions on 127.0.0.1: steering answers for clients
// in different countries (country= and GeoIP via ip= or a trusted X-Forwarded-For), input errors,
// the HTTP and WebSocket proxies, affinity, CORS, rate limiting and the admin endpoints.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { openGeoIp } from '../../src/edge/geoip.js';
import type { GeoIp } from '../../src/edge/geoip.js';
import { three } from './fixtures.js';
import { standIns, urlsOf } from './stand-in.js';
import type { StandIn } from './stand-in.js';

let geoip: GeoIp;
let regions: Record<string, StandIn>;
let edge: Edge;
const downCalls: string[] = [];
const TOKEN = 's3cret-token';

beforeAll(async () => {
  geoip = await openGeoIp();
  regions = await standIns(['us-east', 'eu-west', 'ap-southeast']);
  edge = await startEdge({
    topology: three,
    regionUrls: urlsOf(regions),
    port: 0,
    geoip,
    trustedProxies: ['loopback'],
    cors: { origins: ['https://app.example'], credentials: true },
    adminToken: TOKEN,
    onRegionDown: (r) => void downCalls.push(r),
    wsHighWaterMark: 64 * 1024,
  });
});
afterAll(async () => {
  await edge.close();
  await Promise.all(Object.values(regions).map((r) => r.stop()));
});

/** The JSON answers the edge gives, loosely: each test reads the fields its endpoint has. */
interface Body {
  region?: string | null;
  url?: string | null;
  reason?: string;
  notes?: string[];
  client?: { country: string | null };
  candidates?: { region: string; score: number | null; parts: unknown; excluded?: string }[];
  error?: { code: string; message: string };
  regions?: { name: string; [k: string]: unknown }[];
  probe?: unknown;
  method?: string;
  headers?: Record<string, string | undefined>;
  [k: string]: unknown;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Body;
}

async function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const res = await fetch(`${edge.url}${path}`, { method, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text === '' ? {} : JSON.parse(text)) as Body };
}

interface Opened {
  ws: WebSocket;
  hello: { hello: string; cookie: string | null; xff: string | null; protocol: string };
  setCookie: string | undefined;
  next(): Promise<string>;
}

function openWs(headers: Record<string, string> = {}, protocols: string[] = []): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${edge.url.replace('http', 'ws')}/ws`, protocols, { headers });
    const queue: string[] = [];
    const waiters: ((s: string) => void)[] = [];
    let setCookie: string | undefined;
    ws.on('upgrade', (res) => (setCookie = res.headers['set-cookie']?.[0]));
    ws.on('message', (data) => {
      const s = (data as Buffer).toString();
      const w = waiters.shift();
      if (w) w(s);
      else queue.push(s);
    });
    const next = (): Promise<string> => new Promise((r) => (queue.length > 0 ? r(queue.shift()!) : waiters.push(r)));
    ws.once('open', () => void next().then((h) => resolve({ ws, hello: JSON.parse(h) as Opened['hello'], setCookie, next })));
    ws.once('error', reject);
  });
}

describe('edge server - GET /v1/route', () => {
  it.each([
    ['country=US', 'us-east'],
    ['country=de', 'eu-west'],
    ['country=SG', 'ap-southeast'],
    ['ip=8.8.8.8', 'us-east'],
    ['ip=193.99.144.80', 'eu-west'],
    ['ip=203.116.1.1', 'ap-southeast'],
    ['ip=133.242.0.1', 'ap-southeast'], // Japan: no country rule, nearest by score
    ['country=JP', 'ap-southeast'], // a country alone: placed at its centroid, so proximity counts
    ['country=BR', 'us-east'],
    ['lat=-33.87&lon=151.21', 'ap-southeast'], // Sydney, by coordinates only
  ])('%s is sent to %s', async (query, region) => {
    const r = await get(`/v1/route?${query}`);
    expect(r.status).toBe(200);
    expect(r.body.region).toBe(region);
    expect(r.body.url).toBe(regions[region]!.url);
    expect(r.body.candidates).toHaveLength(3);
    const winner = r.body.candidates?.find((c) => c.region === region);
    expect(winner?.score).toBeTypeOf('number');
    expect(winner?.parts).toHaveProperty('proximity');
    expect(winner?.excluded).toBeUndefined();
  });

  it('explains exclusions: an EU client never gets a non-EU candidate', async () => {
    const r = await get('/v1/route?country=FR');
    expect(r.body).toMatchObject({ region: 'eu-west', reason: 'best-score' });
    expect(r.body.notes).toContain('residency:gdpr');
    const excluded = Object.fromEntries((r.body.candidates ?? []).map((c) => [c.region, c.excluded]));
    expect(excluded).toEqual({ 'eu-west': undefined, 'us-east': 'residency:gdpr', 'ap-southeast': 'residency:gdpr' });
  });

  it('locates the client by GeoIP of X-Forwarded-For from a trusted proxy', async () => {
    const r = await get('/v1/route', { 'x-forwarded-for': '193.99.144.80' });
    expect(r.body.region).toBe('eu-west');
    expect(r.body.client?.country).toBe('DE');
  });

  it.each([
    ['ip=not-an-ip', 'EDGE_INVALID_IP'],
    ['country=XYZ', 'EDGE_INVALID_COUNTRY'],
    ['country=ZZ', 'EDGE_INVALID_COUNTRY'],
    ['country=1A', 'EDGE_INVALID_COUNTRY'],
    ['lat=91&lon=0', 'EDGE_INVALID_LOCATION'],
    ['lat=10', 'EDGE_INVALID_LOCATION'],
    ['lat=abc&lon=1', 'EDGE_INVALID_LOCATION'],
  ])('answers 400 for %s with %s', async (query, code) => {
    const r = await get(`/v1/route?${query}`);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe(code);
    expect(r.body.error?.message).toBeTypeOf('string');
  });
});

describe('edge server - own endpoints', () => {
  it('answers /health, /ready and /v1/regions locally', async () => {
    expect((await get('/health')).body).toEqual({ status: 'ok' });
    expect((await get('/ready')).body).toEqual({ ready: true, healthy: ['us-east', 'eu-west', 'ap-southeast'] });
    const r = await get('/v1/regions');
    expect(r.body.regions?.map((x) => x.name)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    expect(r.body.regions?.[1]).toMatchObject({ city: 'Dublin', jurisdiction: 'EU', url: regions['eu-west']!.url, health: { healthy: true, consecutiveFail: 0, ejectedUntil: null } });
    expect(r.body.probe).toMatchObject({ intervalMs: 500, downAfter: 2, upAfter: 3 });
    for (const s of Object.values(regions)) expect(s.seen.some((x) => x.url.startsWith('/v1/regions'))).toBe(false);
  });

  it('answers unknown paths with a typed 404', async () => {
    const r = await get('/nope');
    expect(r.status).toBe(404);
    expect(r.body.error?.code).toBe('EDGE_NOT_FOUND');
  });
});

describe('edge server - HTTP proxy', () => {
  it('proxies /v1/* to the steered region, names it, appends X-Forwarded-For and drops hop-by-hop headers', async () => {
    // node:http rather than fetch: fetch will not send a Connection header.
    const r = await new Promise<Answer>((resolve, reject) => {
      const req = request(`${edge.url}/v1/things?x=1`, { headers: { 'x-forwarded-for': '193.99.144.80', connection: 'keep-alive, x-private', 'x-private': 'no', 'x-kept': 'yes' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), body: JSON.parse(text) as Body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-meridian-region')).toBe('eu-west');
    expect(r.body).toMatchObject({ region: 'eu-west', method: 'GET', url: '/v1/things?x=1' });
    expect(r.body.headers?.['x-forwarded-for']).toBe('193.99.144.80, 127.0.0.1');
    expect(r.body.headers?.['x-kept']).toBe('yes');
    expect(r.body.headers?.['x-private']).toBeUndefined();
    expect(r.headers.get('x-drop-me')).toBeNull(); // named in the region's Connection header
    expect(r.headers.get('x-region-own')).toBe('eu-west');
  });

  it('streams request bodies', async () => {
    const body = 'x'.repeat(200_000);
    const res = await fetch(`${edge.url}/v1/upload`, { method: 'POST', body, headers: { 'x-meridian-region': 'us-east' } });
    expect(res.headers.get('x-meridian-region')).toBe('us-east');
    const json = (await res.json()) as { body: string; method: string };
    expect(json.method).toBe('POST');
    expect(json.body.length).toBe(200_000);
  });
});

describe('edge server - affinity', () => {
  it('keeps a client on its cookie region; the header wins over the cookie', async () => {
    expect((await get('/v1/route?country=GB')).body.region).toBe('eu-west');
    const cookie = await get('/v1/route?country=GB', { cookie: 'a=b; meridian_region=us-east' });
    expect(cookie.body).toMatchObject({ region: 'us-east', reason: 'affinity' });
    const both = await get('/v1/route?country=GB', { cookie: 'meridian_region=us-east', 'x-meridian-region': 'ap-southeast' });
    expect(both.body).toMatchObject({ region: 'ap-southeast', reason: 'affinity' });
  });

  it('never lets affinity break strict residency, and ignores unknown regions', async () => {
    expect((await get('/v1/route?country=FR', { cookie: 'meridian_region=us-east' })).body.region).toBe('eu-west');
    expect((await get('/v1/route?country=GB', { cookie: 'meridian_region=mars' })).body).toMatchObject({ region: 'eu-west', reason: 'best-score' });
  });

  it('sets the cookie on the WebSocket upgrade and honours it on the next connection', async () => {
    const a = await openWs({ 'x-forwarded-for': '8.8.8.8' });
    expect(a.hello.hello).toBe('us-east');
    expect(a.setCookie).toMatch(/^meridian_region=us-east; Path=\/; Max-Age=82800; HttpOnly; SameSite=Lax/);
    a.ws.close();
    const b = await openWs({ 'x-forwarded-for': '203.116.1.1', cookie: 'meridian_region=us-east' });
    expect(b.hello.hello).toBe('us-east');
    expect(b.hello.cookie).toBe('meridian_region=us-east');
    b.ws.close();
  });
});

describe('edge server - WebSocket proxy', () => {
  it('carries messages both ways and stays open across seconds of ping/pong', async () => {
    const c = await openWs({ 'x-forwarded-for': '193.99.144.80' }, ['meridian.v1']);
    expect(c.hello).toMatchObject({ hello: 'eu-west', xff: '193.99.144.80, 127.0.0.1', protocol: 'meridian.v1' });
    expect(c.ws.protocol).toBe('meridian.v1');
    let pongs = 0;
    c.ws.on('pong', () => pongs++);
    for (let i = 0; i < 6; i++) {
      c.ws.ping();
      c.ws.send(`m${i}`);
      expect(await c.next()).toBe(`m${i}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(pongs).toBeGreaterThanOrEqual(5);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect(edge.load.connections('eu-west')).toBe(1);
    c.ws.close(1000);
    await new Promise((r) => c.ws.once('close', r));
  });

  it('keeps binary frames binary and every message in order under backpressure', async () => {
    const c = await openWs({ 'x-meridian-region': 'ap-southeast' });
    const size = 32 * 1024;
    const n = 200; // 6.4 MB through a 64 KiB high-water mark
    let got = 0;
    let intact = true;
    const done = new Promise<void>((resolve) => {
      c.ws.on('message', (data, isBinary) => {
        const b = data as Buffer;
        intact &&= isBinary && b.length === size && b.readUInt32BE(0) === got;
        if (++got === n) resolve();
      });
    });
    for (let i = 0; i < n; i++) {
      const chunk = Buffer.alloc(size, 7);
      chunk.writeUInt32BE(i, 0);
      c.ws.send(chunk);
    }
    await done;
    expect(intact).toBe(true);
    c.ws.close();
  });

  it('passes the region close code to the client', async () => {
    const c = await openWs();
    const closed = new Promise<[number, string]>((r) => c.ws.once('close', (code, reason) => r([code, String(reason)])));
    c.ws.send('close:4001');
    expect(await closed).toEqual([4001, 'asked to']);
  });

  it('refuses upgrades on other paths and from disallowed origins', async () => {
    const other = new WebSocket(`${edge.url.replace('http', 'ws')}/elsewhere`);
    const status = await new Promise<number>((r) => other.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)));
    expect(status).toBe(404);
    const evil = new WebSocket(`${edge.url.replace('http', 'ws')}/ws`, { headers: { origin: 'https://evil.example' } });
    expect(await new Promise<number>((r) => evil.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)))).toBe(403);
  });
});

describe('edge server - CORS', () => {
  it('answers an allowed preflight itself', async () => {
    const r = await get('/v1/things', { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }, 'OPTIONS');
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(r.headers.get('access-control-allow-methods')).toContain('POST');
    expect(r.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(r.headers.get('access-control-allow-credentials')).toBe('true');
    for (const s of Object.values(regions)) expect(s.seen.some((x) => x.method === 'OPTIONS')).toBe(false);
  });

  it('refuses a preflight from another origin and replaces the region CORS headers', async () => {
    const bad = await get('/v1/things', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
    expect(bad.status).toBe(403);
    expect(bad.body.error?.code).toBe('EDGE_ORIGIN_NOT_ALLOWED');
    const ok = await get('/v1/things', { origin: 'https://app.example' });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example'); // not the region's '*'
    expect(ok.headers.get('access-control-expose-headers')).toContain('X-Meridian-Region');
    const other = await get('/v1/things', { origin: 'https://evil.example' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('edge server - admin', () => {
  it('requires the bearer token', async () => {
    expect((await get('/v1/admin/regions/eu-west/down', {}, 'POST')).status).toBe(401);
    const wrong = await get('/v1/admin/regions/eu-west/down', { authorization: 'Bearer nope' }, 'POST');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error?.code).toBe('EDGE_UNAUTHORIZED');
    expect(downCalls).toEqual([]);
    const ok = await get('/v1/admin/regions/eu-west/down', { authorization: `Bearer ${TOKEN}` }, 'POST');
    expect(ok.status).toBe(202);
    expect(ok.body).toMatchObject({ region: 'eu-west', action: 'down' });
    expect(downCalls).toEqual(['eu-west']);
  });

  it('answers unknown regions with 404 and a missing hook with 501', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await get('/v1/admin/regions/mars/down', auth, 'POST')).body.error?.code).toBe('EDGE_UNKNOWN_REGION');
    expect((await get('/v1/admin/regions/eu-west/up', auth, 'POST')).status).toBe(501);
  });

  it('is off without a token or devAdmin', async () => {
    const plain = await startEdge({ topology: three, regionUrls: urlsOf(regions), port: 0, geoip: null, onRegionDown: () => undefined });
    try {
      const res = await fetch(`${plain.url}/v1/admin/regions/eu-west/down`, { method: 'POST' });
      expect(res.status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

describe('edge server - rate limit', () => {
  it('answers 429 with Retry-After once a client has used its burst', async () => {
    const limited = await startEdge({ topology: three, regionUrls: urlsOf(regions), port: 0, geoip: null, rateLimit: { ratePerSec: 0.5, burst: 3 } });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${limited.url}/v1/route?country=US`);
        statuses.push(res.status);
        if (res.status === 429) {
          retryAfter = res.headers.get('retry-after');
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe('EDGE_RATE_LIMITED');
        } else await res.text();
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect((await fetch(`${limited.url}/health`)).status).toBe(200); // probes are never limited
    } finally {
      await limited.close();
    }
  });
});

describe('edge server - configuration', () => {
  it('refuses region URLs outside the topology or with a path', async () => {
    await expect(startEdge({ topology: three, regionUrls: { mars: 'http://127.0.0.1:1' }, geoip: null, port: 0 })).rejects.toMatchObject({ code: 'EDGE_UNKNOWN_REGION' });
    await expect(startEdge({ topology: three, regionUrls: { 'us-east': 'http://127.0.0.1:1/x' }, geoip: null, port: 0 })).rejects.toMatchObject({ code: 'EDGE_INVALID_CONFIG' });
  });
});
