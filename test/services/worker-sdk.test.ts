/**
 * The worker SDK against a real region module (embedded bus, real sockets): registration with the
 * node's region, heartbeats carrying the live in-flight count, registering again after an
 * eviction, service handlers seeing the path below the service, close() deregistering, and
 * failing over between several region nodes (a gate in front of the own node answers 503, then
 * nothing at all, then passes again).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeApiError, NodesUnavailableError, serve } from '../../src/worker/mod.js';
import { startMesh, standIn, TOKEN } from './mesh-env.js';
import type { Mesh } from './mesh-env.js';

type GateMode = 'pass' | 'fail' | 'hang';

/** An HTTP front for a node: passes requests through, answers 503, or never answers. */
async function gate(target: string): Promise<{ url: string; mode: GateMode; close(): Promise<void> }> {
  const state = { mode: 'pass' as GateMode };
  const server = createServer((req, res) => {
    if (state.mode === 'hang') return;
    if (state.mode === 'fail') return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"BUS_UNAVAILABLE","message":"bus down"}}');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<string, string>;
      fetch(`${target}${req.url}`, { method: req.method, headers, ...(body ? { body } : {}) })
        .then(async (r) => res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain' }).end(Buffer.from(await r.arrayBuffer())))
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('worker SDK', () => {
  let mesh: Mesh;
  beforeAll(async () => {
    mesh = await startMesh({ kind: 'embedded', regions: ['us-east', 'eu-west'], module: { registry: { heartbeatIntervalMs: 100, sweepIntervalMs: 0 } } });
  });
  afterAll(async () => {
    await mesh.close();
  });

  it('registers in the node region, heartbeats live load, registers again after an eviction, deregisters on close', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const w = await serve({
      node: mesh.url('eu-west'),
      token: TOKEN,
      id: 'sdk-1',
      handleSignals: false,
      services: {
        slow: async (req, res) => {
          await gate;
          res.end(`path=${req.url}`);
        },
      },
    });
    expect(w.region).toBe('eu-west');
    expect(w.heartbeatIntervalMs).toBe(100);
    const reg = mesh.module('us-east').registry;
    await waitUntil(() => reg.worker('sdk-1') !== undefined, 'the registration in us-east');
    expect(reg.worker('sdk-1')!.record.region).toBe('eu-west');
    const calls = [1, 2, 3].map(() => fetch(`${mesh.url('us-east')}/v1/services/slow/a/b?c=1`));
    await waitUntil(() => reg.worker('sdk-1')?.record.load.inFlight === 3, 'a heartbeat reporting 3 in flight');
    expect(w.inFlight).toBe(3);
    release();
    const bodies = await Promise.all(calls.map(async (c) => (await c).text()));
    expect(bodies).toEqual(['path=/a/b?c=1', 'path=/a/b?c=1', 'path=/a/b?c=1']);
    await waitUntil(() => reg.worker('sdk-1')?.record.load.inFlight === 0, 'load back to 0');

    // Evicted behind its back: the next heartbeat is refused and the worker registers again.
    await mesh.module('eu-west').registry.deregister('sdk-1');
    await waitUntil(() => reg.worker('sdk-1') === undefined, 'the eviction');
    await waitUntil(() => reg.worker('sdk-1') !== undefined, 'the worker to come back');

    await w.close();
    await waitUntil(() => reg.worker('sdk-1') === undefined, 'the deregistration');
    await w.close(); // idempotent
  });

  it('with several nodes: fails over on 503 and on no answer, keeps its region, returns to its own node when it works again', async () => {
    const front = await gate(mesh.url('us-east'));
    const w = await serve({ node: [front.url, mesh.url('eu-west')], region: 'us-east', token: TOKEN, id: 'sdk-multi', handleSignals: false, services: { multi: (_req, res) => res.end('ok') } });
    try {
      const far = mesh.module('eu-west').registry;
      expect([w.region, w.node]).toEqual(['us-east', front.url]);
      await waitUntil(() => far.worker('sdk-multi')?.heldIn === 'us-east', 'the registration through the own node');
      front.mode = 'fail'; // the own node answers 503 (its bus is down)
      await waitUntil(() => w.node === mesh.url('eu-west'), 'failover after a 503');
      await waitUntil(() => far.worker('sdk-multi')?.heldIn === 'eu-west', 'heartbeats through eu-west');
      front.mode = 'hang'; // the own node does not answer at all: each probe waits one interval
      const seen = far.worker('sdk-multi')!.revision;
      await waitUntil(() => (far.worker('sdk-multi')?.revision ?? 0) > seen + 3, 'heartbeats still going through eu-west');
      expect(w.node).toBe(mesh.url('eu-west'));
      expect(far.worker('sdk-multi')).toMatchObject({ health: 'healthy', record: { region: 'us-east' } });
      front.mode = 'pass';
      await waitUntil(() => w.node === front.url, 'the return to the own node');
      await waitUntil(() => far.worker('sdk-multi')?.heldIn === 'us-east', 'heartbeats home again');
      expect((await fetch(`${mesh.url('eu-west')}/v1/services/multi/`)).status).toBe(200);
    } finally {
      await w.close();
      await front.close();
    }
    await waitUntil(() => mesh.module('eu-west').registry.worker('sdk-multi') === undefined, 'the deregistration');
  });

  it('registers through the next node when the first answers 5xx or nothing; fails with every reason when none answers', async () => {
    const broken = await standIn((_req, res) => res.writeHead(502).end('bad gateway'));
    const w = await serve({ node: [broken.url, 'http://127.0.0.1:9', mesh.url('eu-west')], region: 'us-east', token: TOKEN, id: 'sdk-late', handleSignals: false, services: { late: (_req, res) => res.end('ok') } });
    expect([w.region, w.node]).toEqual(['us-east', mesh.url('eu-west')]);
    await waitUntil(() => mesh.module('us-east').registry.worker('sdk-late')?.record.region === 'us-east', 'the registration seen in us-east');
    await w.close();
    const err = await serve({ node: [broken.url, 'http://127.0.0.1:9'], region: 'us-east', token: TOKEN, handleSignals: false, services: { x: () => undefined } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodesUnavailableError);
    expect((err as NodesUnavailableError).failures.map((f) => f.node)).toEqual([broken.url, 'http://127.0.0.1:9']);
    expect((err as Error).message).toContain('502 HTTP_502');
    await broken.close();
    const noRegion = await serve({ node: [mesh.url('us-east'), mesh.url('eu-west')], token: TOKEN, handleSignals: false, services: { x: () => undefined } }).catch((e: unknown) => e);
    expect(noRegion).toBeInstanceOf(TypeError);
    expect((noRegion as Error).message).toMatch(/region is required with several nodes/);
  });

  it('refuses to start with a wrong token, with the typed error of the node', async () => {
    const err = await serve({ node: mesh.url('us-east'), token: 'wrong-token-wrong-token', handleSignals: false, services: { x: () => undefined } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeApiError);
    expect(err).toMatchObject({ status: 401, code: 'SVC_UNAUTHORIZED' });
    const bad = await serve({ node: mesh.url('us-east'), token: TOKEN, handleSignals: false, services: { x: { url: 'ftp://nowhere/' } } }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'SVC_INVALID_REGISTRATION' });
  });
});
