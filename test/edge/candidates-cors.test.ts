// CORS on `GET /v1/candidates`: a browser page on another origin elects its region from this list,
// so with no CORS configuration the edge answers it with `Access-Control-Allow-Origin: *` (the list
// is public and takes no credentials: never Allow-Credentials), also on a 429. Other endpoints keep
// no CORS headers without configuration, and a configured `cors` decides for the list as for the rest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { three } from './fixtures.js';
import { standIns, urlsOf } from './stand-in.js';
import type { StandIn } from './stand-in.js';

let regions: Record<string, StandIn>;
let open: Edge;
let tight: Edge;
let listed: Edge;

beforeAll(async () => {
  regions = await standIns(['us-east', 'eu-west', 'ap-southeast']);
  const base = { topology: three, regionUrls: urlsOf(regions), port: 0, geoip: null };
  open = await startEdge({ ...base, rateLimit: false });
  tight = await startEdge({ ...base, rateLimit: { ratePerSec: 0.01, burst: 1 } });
  listed = await startEdge({ ...base, rateLimit: false, cors: { origins: ['https://app.example'], credentials: true } });
});
afterAll(async () => {
  await Promise.all([open, tight, listed].map((e) => e?.close()));
  await Promise.all(Object.values(regions ?? {}).map((r) => r.stop()));
});

async function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  const res = await fetch(`${base}${path}`, { method, headers });
  await res.arrayBuffer();
  return res;
}

describe('GET /v1/candidates and CORS', () => {
  it('without a CORS configuration answers any origin with *, never with credentials', async () => {
    const res = await fetch(`${open.url}/v1/candidates`, { headers: { origin: 'https://page.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toContain('Retry-After');
    const body = (await res.json()) as { candidates: { region: string }[] };
    expect(body.candidates.map((c) => c.region).sort()).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    // The same answer whatever the Origin (so a cache cannot hand a page one without the header).
    expect((await get(open.url, '/v1/candidates')).headers.get('access-control-allow-origin')).toBe('*');
    expect((await get(open.url, '/v1/candidates', { origin: 'https://page.example' }, 'HEAD')).headers.get('access-control-allow-origin')).toBe('*');
  });

  it('without a CORS configuration the other endpoints still answer no CORS headers', async () => {
    for (const path of ['/v1/regions', '/v1/route']) {
      const res = await get(open.url, path, { origin: 'https://page.example' });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('access-control-allow-origin'), path).toBeNull();
    }
  });

  it('a page can read a rate-limited answer of the list too', async () => {
    await get(tight.url, '/v1/candidates', { origin: 'https://page.example' });
    const limited = await get(tight.url, '/v1/candidates', { origin: 'https://page.example' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('access-control-allow-origin')).toBe('*');
    expect(limited.headers.get('retry-after')).not.toBeNull();
  });

  it('with a CORS configuration, it decides: listed origins echoed (with credentials as set), others get nothing', async () => {
    const ok = await get(listed.url, '/v1/candidates', { origin: 'https://app.example' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ok.headers.get('vary')).toBe('Origin');
    const other = await get(listed.url, '/v1/candidates', { origin: 'https://evil.example' });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
