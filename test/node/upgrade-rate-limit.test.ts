// WebSocket upgrades at a region node take tokens from a limiter of their own (upgradeRateLimit),
// keyed by client address alone (the credential only comes later, in the auth frame): past the
// burst an upgrade is refused 429 with Retry-After and the typed error body, counted in
// meridian_rate_limited_total{scope="http"}; HTTP requests from the same address are unaffected.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBPROTOCOL } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { value } from '../observability/prom.js';
import { SECRET, hsToken, oneRegion } from './fixtures.js';

type Upgrade = { opened: WebSocket } | { status: number; retryAfter: string | undefined; body: string };

/** One upgrade: the open socket, or the HTTP answer that refused it. */
function upgrade(url: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, SUBPROTOCOL);
    ws.once('open', () => resolve({ opened: ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
    });
    ws.once('error', reject);
  });
}

describe('WebSocket upgrade rate limit of a region node', () => {
  let d: Deployment;
  let url: string;
  const open: WebSocket[] = [];
  beforeAll(async () => {
    // One token per 20 s: the five upgrades below cannot be refilled between, however slow the machine.
    d = await startEmbeddedDeployment(oneRegion(), { dataDir: ':memory:', region: { node: { auth: { hs256Secret: SECRET }, upgradeRateLimit: { ratePerSec: 0.05, burst: 3 }, httpRateLimit: { ratePerSec: 0.05, burst: 3 } } } });
    url = d.urls['solo']!;
  });
  afterAll(async () => {
    for (const ws of open) ws.terminate();
    await d?.close();
  });

  it('refuses upgrades past the burst with 429, Retry-After and RATE_LIMITED, counted, HTTP unaffected', async () => {
    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
    const before = value(await metrics(), 'meridian_rate_limited_total', { scope: 'http' });
    const results: Upgrade[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await upgrade(`${url.replace('http', 'ws')}/ws`);
      if ('opened' in r) open.push(r.opened);
      results.push(r);
    }
    expect(results.map((r) => ('opened' in r ? 101 : r.status))).toEqual([101, 101, 101, 429, 429]);
    for (const r of results.slice(3)) {
      if ('opened' in r) continue;
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      const body = JSON.parse(r.body) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('RATE_LIMITED');
      expect(body.error.message).toContain('WebSocket upgrades');
    }
    // The upgrades' limiter is not the HTTP one: a request from the same address still passes.
    expect((await fetch(`${url}/v1/presence/bob`, { headers: { authorization: `Bearer ${await hsToken({ sub: 'alice' })}` } })).status).toBe(200);
    expect(value(await metrics(), 'meridian_rate_limited_total', { scope: 'http' }) - before).toBe(2);
  });
});
