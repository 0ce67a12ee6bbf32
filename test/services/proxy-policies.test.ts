/**
 * The call policies through the HTTP proxy, configured from the topology's `services:` section:
 * P2C sends fewer requests to a slow endpoint, a breaker opens, probes half-open and closes, and
 * the retry budget caps retries while every endpoint is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, seesEndpoints, standIn, startMesh } from './mesh-env.js';
import type { Mesh, StandIn } from './mesh-env.js';

const TOPOLOGY = `services:
  brk:
    policy:
      retries: { max: 0 }
      breaker: { mode: consecutive, failures: 3, halfOpenAfterMs: 300 }
      outlier: { consecutiveFailures: 1000 }
  gone:
    policy:
      retries: { max: 0 }
      breaker: { mode: consecutive, failures: 3, halfOpenAfterMs: 60000 }
      outlier: { consecutiveFailures: 3 }
  outage:
    policy:
      retries: { max: 2, baseDelayMs: 0, maxDelayMs: 0 }
      retryBudget: { ratio: 0.2, minPerSecond: 0.1, windowMs: 10000 }
      breaker: { mode: consecutive, failures: 1000 }
      outlier: { consecutiveFailures: 1000 }
`;

describe('policies through the proxy (embedded bus)', () => {
  let mesh: Mesh;
  const stands: StandIn[] = [];
  beforeAll(async () => {
    mesh = await startMesh({ kind: 'embedded', regions: ['us-east'], extraTopology: TOPOLOGY });
  });
  afterAll(async () => {
    await Promise.all(stands.map((s) => s.close()));
    await mesh.close();
  });
  const node = (): string => mesh.url('us-east');

  it('P2C sends fewer requests to a slow endpoint', async () => {
    const fast = await standIn((_q, r) => r.end('fast'));
    const slow = await standIn((_q, r) => void setTimeout(() => r.end('slow'), 40));
    stands.push(fast, slow);
    await register(node(), { id: 'p2c-fast', services: [{ name: 'p2c', url: fast.url }] });
    await register(node(), { id: 'p2c-slow', services: [{ name: 'p2c', url: slow.url }] });
    await seesEndpoints(mesh, 'us-east', 'p2c', 2);
    let next = 0;
    const N = 240;
    const client = async (): Promise<void> => {
      while (next++ < N) {
        const r = await fetch(`${node()}/v1/services/p2c/`);
        expect(r.status).toBe(200);
        await r.text();
      }
    };
    await Promise.all(Array.from({ length: 12 }, client));
    expect(fast.hits + slow.hits).toBe(N);
    // Round robin would give the slow one half.
    expect(slow.hits / N).toBeLessThan(0.3);
  });

  it('a breaker opens after consecutive failures, probes half-open, reopens on failure and closes on success', async () => {
    let failing = true;
    const s = await standIn((_q, r) => {
      r.writeHead(failing ? 500 : 200).end(failing ? 'broken' : 'ok');
    });
    stands.push(s);
    await register(node(), { id: 'brk-1', services: [{ name: 'brk', url: s.url }] });
    await seesEndpoints(mesh, 'us-east', 'brk', 1);
    const call = async (): Promise<Response> => fetch(`${node()}/v1/services/brk/`);
    const breaker = async (): Promise<string> => ((await (await fetch(`${node()}/v1/services/brk`)).json()) as { endpoints: Array<{ breaker: string }> }).endpoints[0]!.breaker;
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(500);
    expect(await breaker()).toBe('open');
    const refused = await call();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(s.hits).toBe(3);
    await new Promise((r) => setTimeout(r, 350));
    // The half-open probe fails: open again, and refusing.
    expect((await call()).status).toBe(500);
    expect(s.hits).toBe(4);
    expect(await breaker()).toBe('open');
    expect((await call()).status).toBe(503);
    failing = false;
    await new Promise((r) => setTimeout(r, 350));
    expect((await call()).status).toBe(200);
    expect(await breaker()).toBe('closed');
    expect((await call()).status).toBe(200);
    expect(s.hits).toBe(6);
  });

  it('callers that hang up do not count against the endpoint (breaker and ejection stay calm)', async () => {
    const s = await standIn((_q, r) => void setTimeout(() => r.end('late'), 200));
    stands.push(s);
    await register(node(), { id: 'gone-1', services: [{ name: 'gone', url: s.url }] });
    await seesEndpoints(mesh, 'us-east', 'gone', 1);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const err = await fetch(`${node()}/v1/services/gone/`, { signal: AbortSignal.timeout(30) }).catch((e: unknown) => e);
        expect((err as Error).name).toBe('TimeoutError');
      }),
    );
    await new Promise((r) => setTimeout(r, 250));
    const state = (await (await fetch(`${node()}/v1/services/gone`)).json()) as { endpoints: Array<{ breaker: string; ejection: { ejected: boolean } }> };
    expect(state.endpoints[0]).toMatchObject({ breaker: 'closed', ejection: { ejected: false } });
    expect(await (await fetch(`${node()}/v1/services/gone/`)).text()).toBe('late');
  });

  it('the retry budget caps retries during a total outage', async () => {
    const down = [await standIn((_q, r) => r.writeHead(503).end('down')), await standIn((_q, r) => r.writeHead(503).end('down'))];
    stands.push(...down);
    await register(node(), { id: 'out-1', services: [{ name: 'outage', url: down[0]!.url }] });
    await register(node(), { id: 'out-2', services: [{ name: 'outage', url: down[1]!.url }] });
    await seesEndpoints(mesh, 'us-east', 'outage', 2);
    const N = 60;
    for (let i = 0; i < N; i++) {
      const r = await fetch(`${node()}/v1/services/outage/`);
      expect(r.status).toBe(503);
      await r.text();
    }
    const hits = down[0]!.hits + down[1]!.hits;
    // Without a budget: 3 attempts each = 180. With it: N + 20 % of N + the floor (1 per 10 s).
    expect(hits).toBeGreaterThanOrEqual(N);
    expect(hits).toBeLessThanOrEqual(N + Math.floor(0.2 * N) + 1);
    const state = (await (await fetch(`${node()}/v1/services/outage`)).json()) as { budget: { denied: number } };
    expect(state.budget.denied).toBeGreaterThan(0);
  });
});
