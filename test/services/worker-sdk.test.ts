/**
 * The worker SDK against a real region module (embedded bus, real sockets): registration with the
 * node's region, heartbeats carrying the live in-flight count, registering again after an
 * eviction, service handlers seeing the path below the service, and close() deregistering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeApiError, serve } from '../../src/worker/mod.js';
import { startMesh, TOKEN } from './mesh-env.js';
import type { Mesh } from './mesh-env.js';

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

  it('refuses to start with a wrong token, with the typed error of the node', async () => {
    const err = await serve({ node: mesh.url('us-east'), token: 'wrong-token-wrong-token', handleSignals: false, services: { x: () => undefined } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeApiError);
    expect(err).toMatchObject({ status: 401, code: 'SVC_UNAUTHORIZED' });
    const bad = await serve({ node: mesh.url('us-east'), token: TOKEN, handleSignals: false, services: { x: { url: 'ftp://nowhere/' } } }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'SVC_INVALID_REGISTRATION' });
  });
});
