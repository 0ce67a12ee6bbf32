// The edge's admin endpoints refuse forged browser requests: another origin (even with the token
// in hand, a page must not act cross-site), and with --dev-admin (no token) a non-loopback Host
// (DNS rebinding) or a simple request. CORS '*' never comes with credentials.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { three } from './fixtures.js';
import { standIns, urlsOf } from './stand-in.js';
import type { StandIn } from './stand-in.js';

const TOKEN = 'csrf-admin-token-0000000';
let regions: Record<string, StandIn>;
let withToken: Edge;
let devAdmin: Edge;
let star: Edge;
const downs: string[] = [];

beforeAll(async () => {
  regions = await standIns(['us-east', 'eu-west', 'ap-southeast']);
  const base = { topology: three, regionUrls: urlsOf(regions), port: 0, geoip: null, onRegionDown: (r: string) => void downs.push(r) };
  withToken = await startEdge({ ...base, adminToken: TOKEN });
  devAdmin = await startEdge({ ...base, devAdmin: true });
  star = await startEdge({ ...base, cors: { origins: '*' } });
});
afterAll(async () => {
  await Promise.all([withToken, devAdmin, star].map((e) => e?.close()));
  await Promise.all(Object.values(regions ?? {}).map((r) => r.stop()));
});

/** A raw request (fetch cannot forge Host or Origin). */
function post(base: string, path: string, headers: Record<string, string>): Promise<number> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-length': '0', ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end();
  });
}

describe('edge admin against forged requests', () => {
  it('refuses another origin even with the token, and accepts the same origin', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(await post(withToken.url, '/v1/admin/regions/eu-west/down', { ...auth, origin: 'https://evil.example' })).toBe(403);
    expect(await post(withToken.url, '/v1/admin/regions/eu-west/down', { ...auth, origin: 'null' })).toBe(403);
    expect(downs).toEqual([]);
    expect(await post(withToken.url, '/v1/admin/regions/eu-west/down', { ...auth, origin: withToken.url })).toBe(202);
    expect(await post(withToken.url, '/v1/admin/regions/eu-west/down', auth)).toBe(202);
    expect(downs).toEqual(['eu-west', 'eu-west']);
  });

  it('with --dev-admin answers only loopback Hosts and non-simple requests', async () => {
    downs.length = 0;
    const json = { 'content-type': 'application/json' };
    expect(await post(devAdmin.url, '/v1/admin/regions/eu-west/down', { ...json, host: 'evil.example:7700' })).toBe(403);
    expect(await post(devAdmin.url, '/v1/admin/regions/eu-west/down', { 'content-type': 'text/plain' })).toBe(403);
    expect(await post(devAdmin.url, '/v1/admin/regions/eu-west/down', {})).toBe(403);
    expect(downs).toEqual([]);
    expect(await post(devAdmin.url, '/v1/admin/regions/eu-west/down', json)).toBe(202);
    expect(await post(devAdmin.url, '/v1/admin/regions/eu-west/down', { 'x-meridian-admin': '1' })).toBe(202);
    expect(downs).toEqual(['eu-west', 'eu-west']);
  });

  it('answers CORS * without credentials', async () => {
    const res = await fetch(`${star.url}/v1/regions`, { headers: { origin: 'https://anywhere.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    await res.arrayBuffer();
  });
});
