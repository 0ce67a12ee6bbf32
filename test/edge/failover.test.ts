// Failover through the edge with real stand-in regions: a region taken down (its /ready answers
// 503, or its server is gone) leaves new routes within 2 s and returns only after the up
// threshold; idempotent requests fail over once when a region refuses connections, a POST
// without Idempotency-Key does not; with every region down the edge answers 503 + Retry-After.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import type { RegionHealth } from '../../src/edge/health/mod.js';
import { three } from './fixtures.js';
import { eventually, standIns, urlsOf } from './stand-in.js';
import type { StandIn } from './stand-in.js';

async function routeOf(edge: Edge, query: string): Promise<{ status: number; region: string | null; reason: string }> {
  const res = await fetch(`${edge.url}/v1/route?${query}`);
  const body = (await res.json()) as { region: string | null; reason: string };
  return { status: res.status, region: body.region, reason: body.reason };
}

describe('edge failover - health-driven steering (default probe timing)', () => {
  let regions: Record<string, StandIn>;
  let edge: Edge;
  const transitions: RegionHealth[] = [];

  beforeAll(async () => {
    regions = await standIns(['us-east', 'eu-west', 'ap-southeast']);
    edge = await startEdge({ topology: three, regionUrls: urlsOf(regions), port: 0, geoip: null });
    edge.monitor.subscribe((h) => transitions.push(h));
  });
  afterAll(async () => {
    await edge.close();
    await Promise.all(Object.values(regions).map((r) => r.stop()));
  });

  it('excludes a region whose /ready answers 503 within 2 s, and brings it back only after 3 good probes', async () => {
    expect((await routeOf(edge, 'country=GB')).region).toBe('eu-west');
    regions['eu-west']!.ready = false;
    const t0 = Date.now();
    const moved = await eventually(async () => {
      const r = await routeOf(edge, 'country=GB');
      return r.region === 'eu-west' ? undefined : r;
    }, 4000);
    expect(Date.now() - t0).toBeLessThanOrEqual(2000);
    expect(moved).toEqual({ status: 200, region: 'us-east', reason: 'fallback' });

    regions['eu-west']!.ready = true;
    let stillAway = 0;
    await eventually(async () => {
      const r = await routeOf(edge, 'country=GB');
      if (r.region !== 'eu-west') {
        if (edge.monitor.health('eu-west').consecutiveOk >= 1) stillAway++;
        return undefined;
      }
      return r;
    }, 5000, 20);
    expect(stillAway).toBeGreaterThan(0); // good probes came in while it was still excluded
    expect(transitions.filter((t) => t.region === 'eu-west').map((t) => [t.healthy, t.healthy ? t.consecutiveOk : t.consecutiveFail])).toEqual([
      [false, 2],
      [true, 3],
    ]);
  });

  it('excludes a region whose server is gone within 2 s, and refuses EU clients rather than leave the EU', async () => {
    await regions['eu-west']!.stop();
    const t0 = Date.now();
    await eventually(async () => ((await routeOf(edge, 'country=GB')).region === 'us-east' ? true : undefined), 4000);
    expect(Date.now() - t0).toBeLessThanOrEqual(2000);
    const fr = await fetch(`${edge.url}/v1/route?country=FR`);
    expect(fr.status).toBe(503);
    expect(fr.headers.get('retry-after')).toBe('2');
    expect(((await fr.json()) as { reason: string }).reason).toBe('residency-no-region');
    await regions['eu-west']!.start();
  });

  it('answers 503 with Retry-After on every path when no region is healthy', async () => {
    for (const r of Object.values(regions)) r.ready = false;
    await eventually(async () => ((await fetch(`${edge.url}/ready`)).status === 503 ? true : undefined), 4000);
    const res = await fetch(`${edge.url}/v1/things`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('EDGE_NO_REGION');
    const ws = new WebSocket(`${edge.url.replace('http', 'ws')}/ws`);
    const refused = await new Promise<{ status: number; retryAfter: string | undefined }>((r) =>
      ws.once('unexpected-response', (_q, res) => r({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] })),
    );
    expect(refused).toEqual({ status: 503, retryAfter: '2' });
    for (const r of Object.values(regions)) r.ready = true;
    await eventually(async () => ((await fetch(`${edge.url}/ready`)).status === 200 ? true : undefined), 4000);
  });
});

describe('edge failover - proxied requests to a region that refuses connections', () => {
  let regions: Record<string, StandIn>;
  let edge: Edge;

  beforeAll(async () => {
    regions = await standIns(['us-east', 'eu-west', 'ap-southeast']);
    // Probes far apart: the monitor keeps believing eu-west is up, so only the proxy's own
    // failure handling (retry, passive ejection) is at work.
    edge = await startEdge({ topology: three, regionUrls: urlsOf(regions), port: 0, geoip: null, probe: { intervalMs: 60_000, timeoutMs: 1000 } });
    await regions['eu-west']!.stop();
  });
  afterEach(() => {
    for (const r of Object.values(regions)) r.seen.length = 0;
  });
  afterAll(async () => {
    await edge.close();
    await Promise.all(Object.values(regions).map((r) => r.stop()));
  });

  const toEuWest = { 'x-meridian-region': 'eu-west' };

  it('retries an idempotent GET once on another region', async () => {
    const res = await fetch(`${edge.url}/v1/items/1`, { headers: toEuWest });
    expect(res.status).toBe(200);
    const served = res.headers.get('x-meridian-region');
    expect(served).not.toBe('eu-west');
    expect(((await res.json()) as { region: string }).region).toBe(served);
  });

  it('does not retry a POST without Idempotency-Key: 502 with a typed body, nothing reached another region', async () => {
    const res = await fetch(`${edge.url}/v1/orders`, { method: 'POST', headers: toEuWest, body: '{"n":1}' });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-meridian-region')).toBe('eu-west');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('EDGE_UPSTREAM_FAILED');
    expect(body.error.message).toContain('ECONNREFUSED');
    expect(Object.values(regions).flatMap((r) => r.seen)).toEqual([]);
  });

  it('retries a POST carrying an Idempotency-Key, body intact', async () => {
    const res = await fetch(`${edge.url}/v1/orders`, { method: 'POST', headers: { ...toEuWest, 'idempotency-key': 'k-1' }, body: '{"n":2}' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { body: string }).body).toBe('{"n":2}');
  });

  it('ejects the refusing region after consecutive failures although probes never saw it fail', async () => {
    for (let i = 0; i < 5; i++) await (await fetch(`${edge.url}/v1/items/${i}`, { headers: toEuWest })).text();
    const h = edge.monitor.health('eu-west');
    expect(h).toMatchObject({ healthy: false, probeHealthy: true, ejections: 1 });
    const regionsView = (await (await fetch(`${edge.url}/v1/regions`)).json()) as { regions: { name: string; health: RegionHealth }[] };
    expect(regionsView.regions.find((r) => r.name === 'eu-west')?.health.ejectedUntil).toBeGreaterThan(Date.now());
    // Now the affinity header no longer holds: eu-west is out of the running.
    const res = await fetch(`${edge.url}/v1/items/9`, { headers: toEuWest });
    expect(res.headers.get('x-meridian-region')).not.toBe('eu-west');
    expect(regions['us-east']!.seen.length + regions['ap-southeast']!.seen.length).toBeGreaterThan(0);
  });
});
