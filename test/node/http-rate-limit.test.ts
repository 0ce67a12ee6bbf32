// The region node's HTTP API is rate limited per credential and client address: past the burst,
// 429 with Retry-After; another credential has its own bucket; health and readiness never count.
// Every 429 is counted in meridian_rate_limited_total{scope="http"}.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { SECRET, hsToken, oneRegion } from './fixtures.js';
import { value } from '../observability/prom.js';

describe('HTTP rate limit of a region node', () => {
  let d: Deployment;
  let url: string;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(oneRegion(), { dataDir: ':memory:', region: { node: { auth: { hs256Secret: SECRET }, httpRateLimit: { ratePerSec: 1, burst: 5 } } } });
    url = d.urls['solo']!;
  });
  afterAll(async () => {
    await d?.close();
  });

  it('answers 429 with Retry-After past the burst, per credential', async () => {
    const alice = { authorization: `Bearer ${await hsToken({ sub: 'alice' })}` };
    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
    const before = await metrics();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${url}/v1/presence/bob`, { headers: alice });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
      } else await res.arrayBuffer();
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    // Another credential from the same address has its own bucket.
    const carol = { authorization: `Bearer ${await hsToken({ sub: 'carol' })}` };
    expect((await fetch(`${url}/v1/presence/bob`, { headers: carol })).status).toBe(200);
    // Health and readiness are never limited.
    for (let i = 0; i < 10; i++) expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    // Each 429 counted once, as an HTTP refusal (none of the frame scope).
    const after = await metrics();
    const refused = statuses.filter((s) => s === 429).length;
    expect(refused).toBe(3);
    expect(value(after, 'meridian_rate_limited_total', { scope: 'http' }) - value(before, 'meridian_rate_limited_total', { scope: 'http' })).toBe(refused);
    expect(value(after, 'meridian_rate_limited_total', { scope: 'frame' })).toBe(0);
    expect(after).toMatch(/^meridian_rate_limited_total\{[^}]*scope="frame"[^}]*\} 0$/m);
  });
});
