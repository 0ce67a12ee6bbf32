// A region node refusing a WebSocket upgrade for this client (429 rate limited, 403 origin or
// credential) is answering, not failing: the edge passes the refusal on as the region gave it
// (status, Retry-After, the typed body), never counts it against the region's health (five in a
// row used to eject the region for everyone), and never retries the client on another region
// (which would get around the region's limit). A region failing (5xx) is still tried elsewhere.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { three } from './fixtures.js';
import { eventually, standIns, urlsOf } from './stand-in.js';
import type { StandIn } from './stand-in.js';

let regions: Record<string, StandIn>;
let edge: Edge;

beforeAll(async () => {
  regions = await standIns(['us-east', 'eu-west', 'ap-southeast']);
  edge = await startEdge({ topology: three, regionUrls: urlsOf(regions), port: 0, geoip: null, rateLimit: false, probe: { intervalMs: 60_000, timeoutMs: 1000 } });
  await eventually(() => (Object.keys(regions).every((r) => edge.monitor.health(r).healthy) ? true : undefined));
});
afterAll(async () => {
  await edge?.close();
  await Promise.all(Object.values(regions ?? {}).map((r) => r.stop()));
});

/** Open a WebSocket through the edge to `region`; its handshake answer (or the region it reached). */
function open(region: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string } | { reached: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${edge.url.replace('http', 'ws')}/ws`, { headers: { 'x-meridian-region': region } });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.once('message', (data) => {
      resolve({ reached: (JSON.parse((data as Buffer).toString()) as { hello: string }).hello });
      ws.close();
    });
    ws.once('error', (err) => (err.message.startsWith('Unexpected server response') ? undefined : reject(err)));
  });
}

describe('edge - a region refusing an upgrade', () => {
  it("passes a region's 429 on as given, keeps the region healthy and does not try another region", async () => {
    const body = JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'too many upgrades from 127.0.0.1' } });
    regions['eu-west']!.refuseUpgrades = { status: 429, headers: { 'retry-after': '3', 'content-type': 'application/json; charset=utf-8' }, body };
    try {
      for (let i = 0; i < 8; i++) {
        const r = await open('eu-west');
        expect(r).toMatchObject({ status: 429, body });
        if ('status' in r) expect(r.headers['retry-after']).toBe('3');
      }
      expect(edge.monitor.health('eu-west').healthy).toBe(true);
    } finally {
      regions['eu-west']!.refuseUpgrades = undefined;
    }
    expect(await open('eu-west')).toEqual({ reached: 'eu-west' });
  });

  it("passes a region's 403 on, and still tries another region when one fails with a 5xx", async () => {
    const body = JSON.stringify({ error: { code: 'ORIGIN_NOT_ALLOWED', message: 'origin not allowed' } });
    regions['ap-southeast']!.refuseUpgrades = { status: 403, headers: { 'content-type': 'application/json' }, body };
    try {
      expect(await open('ap-southeast')).toMatchObject({ status: 403, body });
    } finally {
      regions['ap-southeast']!.refuseUpgrades = undefined;
    }
    regions['us-east']!.refuseUpgrades = { status: 503, headers: {}, body: '' };
    try {
      const r = await open('us-east');
      expect('reached' in r && r.reached !== 'us-east').toBe(true);
    } finally {
      regions['us-east']!.refuseUpgrades = undefined;
    }
  });
});
