/**
 * The dashboard's server side on a real edge in front of three embedded regions: the page and its
 * assets with a strict CSP, the live feed behind the admin token (401 without, 404 with admin
 * off, a cap on open feeds), the snapshot it carries (regions, steering, flows) following a
 * region taken down, and the /stats reader tolerating missing or odd fields.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeStats } from '../../src/edge/dashboard/stats.js';
import { healthState, sloTargetsOf, writersOf } from '../../src/edge/dashboard/snapshot.js';
import type { Snapshot } from '../../src/edge/dashboard/snapshot.js';
import { MAX_CLIENTS } from '../../src/edge/dashboard/events.js';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import type { RegionHealth } from '../../src/edge/health/types.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { waitFor } from '../e2e/helpers.js';
import { TestClient } from '../node/client.js';

const TOKEN = 'dashboard-test-token';
let d: Deployment;
let edge: Edge;

beforeAll(async () => {
  const topology = defaultTopology();
  d = await startEmbeddedDeployment(topology, { portBase: 0, region: { node: { auth: { dev: true } } } });
  edge = await startEdge({ topology, regionUrls: d.urls, port: 0, geoip: null, rateLimit: false, adminToken: TOKEN, onRegionDown: (r) => d.takeDown(r), onRegionUp: (r) => d.bringUp(r) });
});

afterAll(async () => {
  await edge?.close();
  await d?.close();
});

/** A live feed: reads SSE frames in the background; `next()` waits for a snapshot matching `pred`. */
async function openFeed(url: string, token = TOKEN): Promise<{ res: Response; next: (pred?: (s: Snapshot) => boolean, timeoutMs?: number) => Promise<Snapshot>; close: () => void; ended: () => boolean }> {
  const ctl = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal });
  const frames: Snapshot[] = [];
  let ended = false;
  if (res.ok && res.body) {
    void (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (/^event: snapshot$/m.test(block) && data !== undefined) frames.push(JSON.parse(data) as Snapshot);
          }
        }
      } catch {
        // aborted
      }
      ended = true;
    })();
  }
  return {
    res,
    async next(pred = () => true, timeoutMs = 5000) {
      let found: Snapshot | undefined;
      await waitFor(() => (found = frames.findLast(pred)) !== undefined, 'a matching snapshot', timeoutMs);
      frames.length = 0;
      return found!;
    },
    close: () => ctl.abort(),
    ended: () => ended,
  };
}

/** Status of a GET sent with this Host header (fetch does not let a caller set Host); the body is dropped. */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard page', () => {
  it('serves the page, its script, style and map with a self-only Content-Security-Policy', async () => {
    for (const [path, type] of [
      ['/dashboard', 'text/html'],
      ['/dashboard/', 'text/html'],
      ['/dashboard/dashboard.js', 'text/javascript'],
      ['/dashboard/dashboard.css', 'text/css'],
      ['/dashboard/world.svg', 'image/svg+xml'],
    ] as const) {
      const res = await fetch(`${edge.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toContain(type);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toContain('unsafe-inline');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const body = await res.text();
      expect(body.length).toBeGreaterThan(100);
    }
    const html = await (await fetch(`${edge.url}/dashboard`)).text();
    // Nothing from elsewhere, nothing inline: every script and style comes from this origin.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>|<style|style="/);
  });

  it('keeps the map small and self-contained', async () => {
    const svg = await (await fetch(`${edge.url}/dashboard/world.svg`)).text();
    expect(svg.length).toBeLessThan(300_000);
    expect((svg.match(/<path /g) ?? []).length).toBeGreaterThan(150);
    expect(svg).not.toMatch(/(href|src)="http/);
  });

  it('answers 304 to a matching ETag, 404 to unknown files and 405 to other methods', async () => {
    const first = await fetch(`${edge.url}/dashboard/dashboard.js`);
    const etag = first.headers.get('etag')!;
    await first.text();
    expect((await fetch(`${edge.url}/dashboard/dashboard.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${edge.url}/dashboard/../package.json`)).status).toBe(404);
    expect((await fetch(`${edge.url}/dashboard/stats.ts`)).status).toBe(404);
    expect((await fetch(`${edge.url}/dashboard`, { method: 'POST' })).status).toBe(405);
  });
});

describe('dashboard live feed', () => {
  it('needs the admin token', async () => {
    const none = await fetch(`${edge.url}/dashboard/events`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('EDGE_UNAUTHORIZED');
    const wrong = await fetch(`${edge.url}/dashboard/events`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    await wrong.text();
  });

  it('streams snapshots of every region with health, steering shares and places', async () => {
    const feed = await openFeed(`${edge.url}/dashboard/events`);
    expect(feed.res.status).toBe(200);
    expect(feed.res.headers.get('content-type')).toContain('text/event-stream');
    const s = await feed.next((x) => x.regions.every((r) => r.state === 'up'));
    expect(s.regions.map((r) => r.name)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    const eu = s.regions.find((r) => r.name === 'eu-west')!;
    expect(eu).toMatchObject({ city: 'Dublin', lat: 53.35, lon: -6.26, healthy: true, edge: { connections: 0 } });
    // Steering: every place goes somewhere, each region serves the places near it.
    expect(s.steering.unserved).toBe(0);
    expect(Object.values(s.steering.share).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(s.steering.places.find((p) => p.place === 'Frankfurt')?.region).toBe('eu-west');
    expect(s.steering.places.find((p) => p.place === 'Tokyo')?.region).toBe('ap-southeast');
    // The default topology sets no SLO targets: no region has any (the page says "no targets").
    expect(s.regions.map((r) => r.sloTargets)).toEqual([null, null, null]);
    // Two snapshots arrive about 500 ms apart.
    const t0 = Date.now();
    await feed.next((x) => x.at > s.at);
    expect(Date.now() - t0).toBeLessThan(1500);
    feed.close();
    await waitFor(() => feed.ended(), 'the feed to end');
  });

  it('carries each region\'s own SLO targets (its slo.regions entry over the global ones), in the feed and in the edge\'s /v1/slo', async () => {
    const slo = { availability: 0.999, p99Ms: 200, regions: { 'eu-west': { p99Ms: 120 }, 'ap-southeast': { availability: 0.99, errorRate: 0.01 } } };
    const withTargets = await startEdge({ topology: { ...d.topology, slo }, regionUrls: d.urls, port: 0, geoip: null, rateLimit: false, adminToken: TOKEN });
    try {
      const feed = await openFeed(`${withTargets.url}/dashboard/events`);
      const s = await feed.next();
      const targets = {
        'us-east': { availability: 0.999, p95Ms: null, p99Ms: 200, errorRate: null },
        'eu-west': { availability: 0.999, p95Ms: null, p99Ms: 120, errorRate: null },
        'ap-southeast': { availability: 0.99, p95Ms: null, p99Ms: 200, errorRate: 0.01 },
      };
      expect(Object.fromEntries(s.regions.map((r) => [r.name, r.sloTargets]))).toEqual(targets);
      feed.close();
      // The aggregate shows what the edge's topology holds each region to, next to the node's own report.
      const all = (await (await fetch(`${withTargets.url}/v1/slo`)).json()) as { regions: Record<string, { targets: unknown; reachable: boolean }> };
      for (const [name, t] of Object.entries(targets)) expect(all.regions[name]).toMatchObject({ targets: t, reachable: true });
    } finally {
      await withTargets.close();
    }
  });

  it('asks its what-ifs without counting them as decisions, and shows the decisions the edge really made', async () => {
    const feed = await openFeed(`${edge.url}/dashboard/events`);
    const first = await feed.next();
    await feed.next((x) => x.at >= first.at + 1000, 3000); // three ticks of what-ifs for 18 places
    const count = (x: Snapshot): number => Object.values(x.steering.decisions).reduce((a, b) => a + b, 0);
    expect(count(await feed.next())).toBe(0);
    for (let i = 0; i < 3; i++) expect((await fetch(`${edge.url}/v1/route?country=SG`)).status).toBe(200);
    const s = await feed.next((x) => count(x) > 0);
    expect(s.steering.decisions).toEqual({ 'ap-southeast': 3 });
    expect(s.steering.reasons).toEqual({ 'best-score': 3 });
    feed.close();
  });

  it('draws flows at their rate over the last 5 s, with the one-minute average beside it', async () => {
    const bob = await TestClient.dev(d.wsUrl('eu-west'), 'flow-bob');
    const feed = await openFeed(`${edge.url}/dashboard/events`);
    try {
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`${d.urls['us-east']}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from: 'flow-amy', to: { user: 'flow-bob' }, body: i, clientMsgId: `f${i}` }) });
        expect(r.status).toBe(201);
      }
      await waitFor(() => bob.frames.filter((f) => f.type === 'message').length >= 10, 'bob gets 10 messages');
      const flowOf = (x: Snapshot): Snapshot['flows'][number] | undefined => x.flows.find((f) => f.from === 'us-east' && f.to === 'eu-west');
      // 10 deliveries just now: up to 10 / 5 s = 2/s over 5 s, 10 / 60 s ≈ 0.2/s over the minute
      // (eu-west's counts reach us-east's /stats on its status answer, cached up to 2 s: the first
      // snapshot may hold part of them, in both windows alike).
      const s = await feed.next((x) => (flowOf(x)?.perSec1m ?? 0) > 0, 8000);
      const flow = flowOf(s)!;
      expect(flow.stalled).toBe(false);
      expect(flow.perSec1m).toBeLessThanOrEqual(0.2);
      expect(flow.perSec).toBeGreaterThan(3 * flow.perSec1m);
    } finally {
      feed.close();
      bob.ws.close();
    }
  });

  it('shows a region taken down, its places moved to the others (EU places left unserved by strict residency), and back', async () => {
    const feed = await openFeed(`${edge.url}/dashboard/events`);
    await feed.next((x) => x.regions.every((r) => r.state === 'up'));
    const t0 = Date.now();
    const down = await fetch(`${edge.url}/v1/admin/regions/eu-west/down`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(down.status).toBe(202);
    const s = await feed.next((x) => x.regions.find((r) => r.name === 'eu-west')?.state === 'down');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(s.steering.share['eu-west']).toBe(0);
    expect(s.steering.places.find((p) => p.place === 'London')?.region).not.toBe('eu-west');
    expect(s.steering.places.find((p) => p.place === 'London')?.region).not.toBeNull();
    // Frankfurt is under the strict gdpr rule: no other region may take it.
    expect(s.steering.places.find((p) => p.place === 'Frankfurt')?.region).toBeNull();
    expect(s.steering.unserved).toBeGreaterThan(0);
    expect(s.regions.find((r) => r.name === 'eu-west')?.healthy).toBe(false);

    expect((await fetch(`${edge.url}/v1/admin/regions/eu-west/up`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
    const back = await feed.next((x) => x.regions.every((r) => r.state === 'up'), 8000);
    expect(back.steering.share['eu-west']).toBeGreaterThan(0);
    expect(back.steering.unserved).toBe(0);
    feed.close();
  });

  it(`refuses more than ${MAX_CLIENTS} open feeds and frees a place when one closes`, async () => {
    const feeds = await Promise.all(Array.from({ length: MAX_CLIENTS }, () => openFeed(`${edge.url}/dashboard/events`)));
    expect(feeds.every((f) => f.res.status === 200)).toBe(true);
    const extra = await fetch(`${edge.url}/dashboard/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(extra.status).toBe(429);
    await extra.text();
    feeds[0]!.close();
    await waitFor(async () => {
      const again = await openFeed(`${edge.url}/dashboard/events`);
      const ok = again.res.status === 200;
      again.close();
      if (!ok) await again.res.text().catch(() => undefined);
      return ok;
    }, 'a feed place to free up', 3000, 50);
    for (const f of feeds) f.close();
  });

  it('is refused (403) to other origins, and without a token to a non-loopback Host (DNS rebinding)', async () => {
    const other = await fetch(`${edge.url}/dashboard/events`, { headers: { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' } });
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('EDGE_ORIGIN_NOT_ALLOWED');
    const open = await startEdge({ topology: defaultTopology(), regionUrls: d.urls, port: 0, geoip: null, devAdmin: true });
    try {
      expect(await statusWithHost(`${open.url}/dashboard/events`, 'rebound.example:80')).toBe(403);
      expect(await statusWithHost(`${open.url}/dashboard/events`, `localhost:${open.port}`)).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('is off (404) on an edge without admin, like the admin endpoints', async () => {
    const plain = await startEdge({ topology: defaultTopology(), regionUrls: d.urls, port: 0, geoip: null });
    try {
      expect((await fetch(`${plain.url}/dashboard/events`)).status).toBe(404);
      expect((await fetch(`${plain.url}/dashboard`)).status).toBe(200); // the page itself is public
    } finally {
      await plain.close();
    }
  });

  it('ends open feeds when the edge closes', async () => {
    const topology = defaultTopology();
    const other = await startEdge({ topology, regionUrls: d.urls, port: 0, geoip: null, devAdmin: true });
    const feed = await openFeed(`${other.url}/dashboard/events`, '');
    await feed.next();
    await other.close();
    await waitFor(() => feed.ended(), 'the feed to end with the edge', 3000);
  });
});

describe('reading /stats', () => {
  it('takes the agreed shape and leaves absent or malformed fields null', () => {
    const full = parseNodeStats({
      region: 'eu-west',
      node: 'n1',
      uptimeS: 12,
      sessions: 3,
      connections: 4,
      messagesPerSec: 10.5,
      deliveriesPerSec: 20,
      crossRegion: { 'us-east': 2, 'ap-southeast': 'x' },
      crossRegionNow: { 'us-east': 4.2 },
      latencyMs: { p50: 1, p95: 5, p99: 9 },
      bus: { status: 'connected', rttMs: { 'us-east': 70 } },
      slo: { ok: true, availability: 0.9995, p95Ms: 5, p99Ms: 9, burnRate5m: 0.1, burnRate1h: 0.2 },
      replication: { lagP99Ms: 42.5, copies5m: 12, failures1m: 1 },
      takeovers: { count: 2, known: [{ home: 'ap-southeast', owner: 'eu-west' }, { home: 'us-east' }, 'x', { home: 'us-east', owner: 'eu-west' }], writesFor: ['ap-southeast', 'us-east', 7] },
    });
    expect(full).toMatchObject({ connections: 4, messagesPerSec: 10.5, crossRegion: { 'us-east': 2 }, latencyMs: { p95: 5 }, bus: { rttMs: { 'us-east': 70 } }, slo: { ok: true } });
    expect(full.crossRegion).not.toHaveProperty('ap-southeast');
    expect(full.crossRegionNow).toEqual({ 'us-east': 4.2 });
    expect(full.replication).toEqual({ lagP99Ms: 42.5, copies5m: 12, failures1m: 1 });
    // Malformed entries are dropped, the rest kept.
    expect(full.takeovers).toEqual({ count: 2, known: [{ home: 'ap-southeast', owner: 'eu-west' }, { home: 'us-east', owner: 'eu-west' }], writesFor: ['ap-southeast', 'us-east'] });
    const empty = parseNodeStats({ connections: 'many', latencyMs: null });
    // A node of an older version has no replication or takeovers: null, shown as "–".
    expect(empty).toMatchObject({ connections: null, messagesPerSec: null, crossRegion: {}, crossRegionNow: null, latencyMs: null, bus: null, slo: null, replication: null, takeovers: null });
    expect(parseNodeStats({ replication: { lagP99Ms: null } }).replication).toEqual({ lagP99Ms: null, copies5m: null, failures1m: null });
    expect(parseNodeStats('nonsense').sessions).toBeNull();
  });

  it('marks a home written elsewhere from the takeovers any region reports (the home itself may be down)', () => {
    const owner = parseNodeStats({ takeovers: { count: 1, known: [{ home: 'eu-west', owner: 'us-east' }], writesFor: ['eu-west'] } });
    const heard = parseNodeStats({ takeovers: { count: 1, known: [{ home: 'eu-west', owner: 'us-east' }], writesFor: [] } });
    const quiet = parseNodeStats({ takeovers: { count: 0, known: [], writesFor: [] } });
    expect([...writersOf([null, owner, heard])]).toEqual([['eu-west', 'us-east']]);
    expect([...writersOf([quiet, null, parseNodeStats({})])]).toEqual([]);
  });

  it('reads SLO targets from the topology: none set is null, any one set is a view with the rest null, per region when given', () => {
    const t = d.topology;
    expect(sloTargetsOf({ ...t, slo: {} }, 'eu-west')).toBeNull();
    expect(sloTargetsOf({ ...t, slo: { errorRate: 0.01 } }, 'eu-west')).toEqual({ availability: null, p95Ms: null, p99Ms: null, errorRate: 0.01 });
    expect(sloTargetsOf({ ...t, slo: { availability: 0.9999, p95Ms: 100, p99Ms: 200 } }, 'us-east')).toEqual({ availability: 0.9999, p95Ms: 100, p99Ms: 200, errorRate: null });
    // Per region: the region's own fields over the global ones; a region with targets only of its own.
    const per = { ...t, slo: { p95Ms: 100, regions: { 'us-east': { p95Ms: 50, availability: 0.999 } } } };
    expect(sloTargetsOf(per, 'us-east')).toEqual({ availability: 0.999, p95Ms: 50, p99Ms: null, errorRate: null });
    expect(sloTargetsOf(per, 'eu-west')).toEqual({ availability: null, p95Ms: 100, p99Ms: null, errorRate: null });
    expect(sloTargetsOf({ ...t, slo: { regions: { 'us-east': { p99Ms: 300 } } } }, 'eu-west')).toBeNull();
  });

  it('names a health state from the monitor and the SLO', () => {
    const h = (o: Partial<RegionHealth>): RegionHealth => ({ region: 'r', healthy: true, probeHealthy: true, lastProbe: 1, consecutiveOk: 3, consecutiveFail: 0, passiveFailures: 0, ejectedUntil: null, ejections: 0, lastError: null, ...o });
    expect(healthState(h({}), null).state).toBe('up');
    expect(healthState(h({}), true).state).toBe('up');
    expect(healthState(h({}), false)).toEqual({ state: 'degraded', detail: 'SLO breached' });
    expect(healthState(h({ consecutiveFail: 1, lastError: 'timeout' }), true)).toEqual({ state: 'degraded', detail: 'timeout' });
    expect(healthState(h({ healthy: false, ejectedUntil: 5 }), null).state).toBe('degraded');
    expect(healthState(h({ healthy: false, probeHealthy: false, lastError: 'ECONNREFUSED' }), null)).toEqual({ state: 'down', detail: 'ECONNREFUSED' });
    expect(healthState(h({ probeHealthy: null }), null).state).toBe('unknown');
    expect(healthState(null, null).state).toBe('down');
  });
});
