// Region node metrics, /stats and /v1/slo on a real embedded 3-region deployment: a known
// workload moves the right series by the right amounts, and promtool accepts the exposition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { TestClient } from '../node/client.js';
import { waitFor } from '../e2e/helpers.js';
import { promtoolCheck, promtoolMissing, value } from './prom.js';

let d: Deployment;

async function metrics(region: string): Promise<string> {
  const r = await fetch(`${d.urls[region]}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toContain('text/plain');
  return r.text();
}

async function json(url: string): Promise<Record<string, unknown>> {
  const r = await fetch(url);
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, unknown>;
}

async function post(region: string, from: string, to: Record<string, string>, clientMsgId: string): Promise<Response> {
  return fetch(`${d.urls[region]}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to, body: { text: clientMsgId }, clientMsgId }) });
}

beforeAll(async () => {
  // Targets in the topology, so /v1/slo has something to evaluate (the default topology has none).
  d = await startEmbeddedDeployment({ ...defaultTopology(), slo: { availability: 0.999, p95Ms: 100, p99Ms: 200 } }, { dataDir: ':memory:' });
});
afterAll(async () => {
  await d?.close();
});

describe('region node metrics', () => {
  it('10 cross-region sends move sends, appends, deliveries and latency by exactly 10', async () => {
    const bob = await TestClient.dev(d.wsUrl('eu-west'), 'bob');
    try {
      const [us0, eu0] = await Promise.all([metrics('us-east'), metrics('eu-west')]);
      // No durability asked: the topology's default, local.
      const sent = { outcome: 'accepted', durability: 'local' };
      const flow = { source_region: 'us-east', destination_region: 'eu-west' };
      for (let i = 0; i < 10; i++) expect((await post('us-east', 'alice', { user: 'bob' }, `m${i}`)).status).toBe(201);
      // A retry of the last one is a duplicate: counted as such, delivered nowhere.
      expect((await post('us-east', 'alice', { user: 'bob' }, 'm9')).status).toBe(200);
      await waitFor(() => bob.frames.filter((f) => f.type === 'message').length >= 10, 'bob gets 10 messages');
      const [us1, eu1] = await Promise.all([metrics('us-east'), metrics('eu-west')]);
      expect(value(us1, 'meridian_messages_sent_total', sent) - value(us0, 'meridian_messages_sent_total', sent)).toBe(10);
      expect(value(us1, 'meridian_messages_sent_total', { outcome: 'duplicate', durability: 'local' }) - value(us0, 'meridian_messages_sent_total', { outcome: 'duplicate', durability: 'local' })).toBe(1);
      expect(value(us1, 'meridian_messages_sent_total', { durability: 'replicated' }) - value(us0, 'meridian_messages_sent_total', { durability: 'replicated' })).toBe(0);
      // alice's first message homed the conversation in us-east: 10 appends there (+ the duplicate's dedupe hit).
      expect(value(us1, 'meridian_log_append_duration_seconds_count') - value(us0, 'meridian_log_append_duration_seconds_count')).toBe(11);
      expect(value(eu1, 'meridian_deliveries_total', flow) - value(eu0, 'meridian_deliveries_total', flow)).toBe(10);
      expect(value(eu1, 'meridian_delivery_latency_seconds_count', { source_region: 'us-east' }) - value(eu0, 'meridian_delivery_latency_seconds_count', { source_region: 'us-east' })).toBe(10);
      // The embedded WAN puts ~tens of ms between us-east and eu-west: the latency sum shows it.
      const meanS = (value(eu1, 'meridian_delivery_latency_seconds_sum') - value(eu0, 'meridian_delivery_latency_seconds_sum')) / 10;
      expect(meanS).toBeGreaterThan(0.01);
      expect(value(eu1, 'meridian_connections', { region: 'eu-west' })).toBe(1);
      expect(value(eu1, 'meridian_bus_connected')).toBe(1);
      expect(value(eu1, 'meridian_region_rtt_seconds', { peer_region: 'us-east' })).toBeGreaterThan(0.01);
      expect(value(eu1, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      // No user or conversation ids in any label.
      expect(eu1).not.toMatch(/"(alice|bob)"|dm:/);
    } finally {
      bob.ws.close();
    }
  });

  it.skipIf(promtoolMissing !== undefined)(`promtool check metrics passes on every node's exposition ${promtoolMissing ?? ''}`, async () => {
    for (const region of ['us-east', 'eu-west', 'ap-southeast']) {
      const r = promtoolCheck(await metrics(region));
      expect(r.output).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('/stats has the documented shape and counts the workload', async () => {
    // Peers' delivery rates ride on their status answers, cached for up to 2 s.
    let s: Record<string, unknown> = {};
    await waitFor(async () => {
      s = await json(`${d.urls['us-east']}/stats`);
      return (s['crossRegion'] as Record<string, number>)['eu-west']! > 0;
    }, 'us-east sees the deliveries in eu-west', 5000, 250);
    expect(Object.keys(s).sort()).toEqual(['bus', 'connections', 'crossRegion', 'crossRegionNow', 'deliveriesPerSec', 'latencyMs', 'messagesPerSec', 'node', 'region', 'replication', 'sessions', 'slo', 'takeovers', 'uptimeS'].sort());
    expect(s['region']).toBe('us-east');
    // 11 sends (10 + the duplicate) in the last minute.
    expect(s['messagesPerSec']).toBeCloseTo(11 / 60, 3);
    const cross = s['crossRegion'] as Record<string, number>;
    expect(Object.keys(cross).sort()).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    expect(cross['eu-west']).toBeCloseTo(10 / 60, 3);
    // The 5-s rates, by the same regions (the sends may be more than 5 s old by now).
    expect(Object.keys(s['crossRegionNow'] as object).sort()).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    const bus = s['bus'] as { status: string; rttMs: Record<string, number | null> };
    expect(bus.status).toBe('connected');
    expect(Object.keys(bus.rttMs).sort()).toEqual(['ap-southeast', 'eu-west']);
    expect(Object.keys(s['slo'] as object).sort()).toEqual(['availability', 'burnRate1h', 'burnRate5m', 'ok', 'p95Ms', 'p99Ms']);
    // dm:alice:bob is copied from us-east to its replica behind each local ack; nothing was taken over.
    const rep = s['replication'] as { lagP99Ms: number | null; copies5m: number; failures1m: number };
    expect(rep.copies5m).toBeGreaterThanOrEqual(1);
    expect(rep.lagP99Ms).toBeGreaterThan(0);
    expect(rep.failures1m).toBe(0);
    expect(s['takeovers']).toEqual({ count: 0, known: [], writesFor: [] });
    const eu = await json(`${d.urls['eu-west']}/stats`);
    expect(eu['deliveriesPerSec']).toBeCloseTo(10 / 60, 3);
    const lat = eu['latencyMs'] as { p50: number; p95: number; p99: number };
    expect(lat.p50).toBeGreaterThan(10);
    expect(lat.p99).toBeGreaterThanOrEqual(lat.p95);
  });

  it('/v1/slo evaluates the topology targets', async () => {
    const s = (await json(`${d.urls['us-east']}/v1/slo`)) as { targets: Record<string, number | null>; windows: Record<string, { total: number; failed: number; availability: number; burnRate: number | null }>; ok: boolean; burnRate5m: number | null };
    // The topology's targets, an absent one as null.
    expect(s.targets).toEqual({ availability: 0.999, p95Ms: 100, p99Ms: 200, errorRate: null });
    expect(s.windows['5m']!.total).toBe(11);
    expect(s.windows['5m']!.failed).toBe(0);
    expect(s.windows['5m']!.availability).toBe(1);
    // No failures against a budget of 1 - 0.999: burn rate 0, every target met.
    expect(s.windows['5m']!.burnRate).toBe(0);
    expect(s.burnRate5m).toBe(0);
    expect(s.ok).toBe(true);
    expect(s.windows['1h']!.total).toBe(11);
  });
  // Last: its sends must not count in the /stats and /v1/slo numbers above.
  it('labels sends by the durability of their ack: a replicated send (and a rejected one asking for it) moves its own series', async () => {
    const alice = await TestClient.dev(d.wsUrl('us-east'), 'alice');
    try {
      const m0 = await metrics('us-east');
      const ack = await alice.request({ type: 'send', id: 'r1', to: { user: 'bob' }, body: 'kept twice', clientMsgId: 'rep-1', durability: 'replicated' });
      expect(ack).toMatchObject({ type: 'ack', durability: 'replicated' });
      const local = await alice.request({ type: 'send', id: 'l1', to: { user: 'bob' }, body: 'kept once', clientMsgId: 'loc-1', durability: 'local' });
      expect(local).toMatchObject({ type: 'ack', durability: 'local' });
      // Refused by the node's messaging (an empty idempotency key): the durability it asked for labels it.
      await expect(d.region('us-east').messaging.send({ from: 'alice', to: { user: 'bob' }, body: 1, clientMsgId: '', durability: 'replicated' })).rejects.toMatchObject({ code: 'MSG_INVALID' });
      const m1 = await metrics('us-east');
      const moved = (labels: Record<string, string>): number => value(m1, 'meridian_messages_sent_total', labels) - value(m0, 'meridian_messages_sent_total', labels);
      expect(moved({ durability: 'replicated', outcome: 'accepted' })).toBe(1);
      expect(moved({ durability: 'replicated', outcome: 'rejected' })).toBe(1);
      expect(moved({ durability: 'local', outcome: 'accepted' })).toBe(1);
      expect(moved({ durability: 'local', outcome: 'rejected' })).toBe(0);
      // The 8 series of the bounded set are there from the start, the unused ones at 0.
      const series = m1.split('\n').filter((l) => l.startsWith('meridian_messages_sent_total{'));
      expect(series).toHaveLength(8);
      expect(m1).toMatch(/^meridian_messages_sent_total\{durability="replicated",outcome="failed",[^}]*\} 0$/m);
    } finally {
      alice.ws.close();
    }
  });
});
