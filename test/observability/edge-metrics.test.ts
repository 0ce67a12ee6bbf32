// The edge's /metrics, /stats and aggregated /v1/slo in front of a real embedded deployment:
// steering decisions are counted by chosen region and reason, promtool accepts the exposition,
// and a region taken down shows as unreachable in the aggregate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { waitFor } from '../e2e/helpers.js';
import { promtoolCheck, promtoolMissing, value } from './prom.js';

let d: Deployment;
let edge: Edge;

beforeAll(async () => {
  d = await startEmbeddedDeployment(defaultTopology(), { dataDir: ':memory:' });
  edge = await startEdge({ topology: d.topology, regionUrls: d.urls, port: 0, geoip: null, probe: { intervalMs: 250, timeoutMs: 200, downAfter: 2, upAfter: 1 } });
  await waitFor(() => edge.monitor.all().every((h) => h.healthy), 'every region healthy at the edge');
});
afterAll(async () => {
  await edge?.close();
  await d?.close();
});

const metrics = async (): Promise<string> => (await fetch(`${edge.url}/metrics`)).text();

describe('edge metrics', () => {
  it('counts steering decisions by chosen region and reason; /stats has them for the last minute', async () => {
    const before = await metrics();
    // Dublin: eu-west is nearest.
    for (let i = 0; i < 5; i++) expect((await fetch(`${edge.url}/v1/route?lat=53.35&lon=-6.26`)).status).toBe(200);
    const after = await metrics();
    const route = (await (await fetch(`${edge.url}/v1/route?lat=53.35&lon=-6.26`)).json()) as { region: string; reason: string };
    expect(route.region).toBe('eu-west');
    expect(value(after, 'meridian_edge_decisions_total', { region: 'eu-west', reason: route.reason }) - value(before, 'meridian_edge_decisions_total', { region: 'eu-west', reason: route.reason })).toBe(5);
    expect(value(after, 'meridian_edge_requests_total', { route: 'route', code: '2xx' }) - value(before, 'meridian_edge_requests_total', { route: 'route', code: '2xx' })).toBe(5);
    expect(value(after, 'meridian_edge_region_healthy', { region: 'ap-southeast' })).toBe(1);
    // /v1/candidates is the edge's own answer, with its own route label (not `proxy`), and not a decision.
    const beforeCandidates = await metrics();
    const candidates = await fetch(`${edge.url}/v1/candidates`);
    await candidates.text();
    expect(candidates.status).toBe(200);
    const afterCandidates = await metrics();
    const moved = (name: string, labels: Record<string, string> = {}): number => value(afterCandidates, name, labels) - value(beforeCandidates, name, labels);
    expect(moved('meridian_edge_requests_total', { route: 'candidates', code: '2xx' })).toBe(1);
    expect(moved('meridian_edge_requests_total', { route: 'proxy' })).toBe(0);
    expect(moved('meridian_edge_decisions_total')).toBe(0);
    const stats = (await (await fetch(`${edge.url}/stats`)).json()) as Record<string, unknown>;
    expect(Object.keys(stats).sort()).toEqual(['decisionReasons', 'decisions', 'edge', 'regions', 'requestsPerSec', 'uptimeS']);
    expect((stats['decisions'] as Record<string, number>)['eu-west']).toBe(6);
    expect((stats['decisionReasons'] as Record<string, number>)[route.reason]).toBe(6);
    const regions = stats['regions'] as Record<string, { health: string; connections: number; rps: number; url: string }>;
    expect(Object.keys(regions).sort()).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    expect(regions['us-east']).toEqual({ health: 'healthy', url: d.urls['us-east'], connections: 0, rps: 0 });
  });

  it.skipIf(promtoolMissing !== undefined)(`promtool check metrics passes on the edge's exposition ${promtoolMissing ?? ''}`, async () => {
    const r = promtoolCheck(await metrics());
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('/metrics and /stats are never rate limited; the edge\'s /v1/slo (it fans out) is, and its 429 is counted', async () => {
    const tight = await startEdge({ topology: d.topology, regionUrls: d.urls, port: 0, geoip: null, rateLimit: { ratePerSec: 0.01, burst: 1 } });
    try {
      const slo1 = await fetch(`${tight.url}/v1/slo`);
      await slo1.text();
      expect(slo1.status).toBe(200);
      const slo2 = await fetch(`${tight.url}/v1/slo`);
      expect(slo2.status).toBe(429);
      expect(Number(slo2.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await slo2.json()) as { error: { code: string } }).error.code).toBe('EDGE_RATE_LIMITED');
      for (let i = 0; i < 5; i++) {
        for (const path of ['/metrics', '/stats']) {
          const r = await fetch(`${tight.url}${path}`);
          await r.text();
          expect(r.status, `${path} #${i}`).toBe(200);
        }
      }
      const m = await (await fetch(`${tight.url}/metrics`)).text();
      expect(value(m, 'meridian_edge_rate_limited_total')).toBe(1);
      expect(value(m, 'meridian_edge_requests_total', { route: 'slo', code: '4xx' })).toBe(1);
    } finally {
      await tight.close();
    }
  });

  it('/v1/slo aggregates every region and marks a region that is down unreachable', async () => {
    const all = (await (await fetch(`${edge.url}/v1/slo`)).json()) as { ok: boolean; regions: Record<string, { reachable: boolean; slo?: { region: string }; error?: string }> };
    expect(Object.keys(all.regions).sort()).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    for (const [name, r] of Object.entries(all.regions)) {
      expect(r.reachable).toBe(true);
      expect(r.slo!.region).toBe(name);
    }
    expect(all.ok).toBe(true);
    await d.takeDown('ap-southeast');
    try {
      await waitFor(() => !edge.monitor.health('ap-southeast').healthy, 'the edge sees ap-southeast down');
      const some = (await (await fetch(`${edge.url}/v1/slo`)).json()) as typeof all;
      expect(some.regions['ap-southeast']!.reachable).toBe(false);
      expect(some.regions['ap-southeast']!.error).toBeTruthy();
      expect(some.regions['us-east']!.reachable).toBe(true);
      expect(some.ok).toBe(false);
      let m = '';
      await waitFor(async () => value((m = await metrics()), 'meridian_edge_region_healthy', { region: 'ap-southeast' }) === 0, 'the gauge shows ap-southeast down');
      expect(value(m, 'meridian_edge_health_transitions_total', { region: 'ap-southeast', to: 'unhealthy' })).toBeGreaterThanOrEqual(1);
    } finally {
      await d.bringUp('ap-southeast');
    }
  });
});
