/**
 * Power of two choices: against real HTTP servers on loopback a slow endpoint, whose requests
 * pile up, gets clearly less traffic; with a seeded generator, weights set the share.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceCaller, pickP2C, seededRandom } from '../../src/services/mod.js';

interface HttpEndpoint {
  readonly key: string;
  readonly region: string;
  readonly weight: number;
  readonly url: string;
}

async function serve(delayMs: number): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    setTimeout(() => res.end('ok'), delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe('power of two choices', () => {
  const servers: Server[] = [];
  let endpoints: HttpEndpoint[] = [];
  beforeAll(async () => {
    const fast = await serve(0);
    const slow = await serve(40);
    servers.push(fast.server, slow.server);
    endpoints = [
      { key: 'fast', region: 'eu-west', weight: 1, url: fast.url },
      { key: 'slow', region: 'eu-west', weight: 1, url: slow.url },
    ];
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('sends fewer requests to a slow endpoint (real HTTP on loopback)', async () => {
    const caller = new ServiceCaller<HttpEndpoint>({ endpoints: () => endpoints, random: seededRandom(42) });
    const hits = { fast: 0, slow: 0 };
    let next = 0;
    const N = 300;
    const client = async (): Promise<void> => {
      while (next++ < N) {
        const r = await caller.invoke('svc', { method: 'GET' }, async (e, ctx) => {
          hits[e.key as 'fast']++;
          const res = await fetch(e.url, { signal: ctx.signal });
          await res.text();
          return { status: res.status };
        });
        expect(r.status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 12 }, client));
    expect(hits.fast + hits.slow).toBe(N);
    // Round robin would give the slow one half; P2C on in-flight gives it far less.
    expect(hits.slow).toBeLessThan(N * 0.3);
    expect(caller.snapshot()[0]!.endpoints.every((e) => e.inFlight === 0)).toBe(true);
  });

  it('respects weights: with requests held open, in-flight ends up proportional to weight', () => {
    const items = [
      { key: 'a', weight: 1 },
      { key: 'b', weight: 1 },
      { key: 'c', weight: 2 },
      { key: 'heavy', weight: 4 },
    ];
    const inFlight = new Map<string, number>();
    const random = seededRandom(1);
    for (let i = 0; i < 800; i++) {
      const k = pickP2C(items, (key) => inFlight.get(key) ?? 0, random).key;
      inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
    }
    const share = (k: string): number => (inFlight.get(k) ?? 0) / 800;
    expect(share('heavy')).toBeGreaterThan(0.4);
    expect(share('heavy')).toBeLessThan(0.6);
    expect(share('c')).toBeGreaterThan(0.17);
    expect(share('a')).toBeGreaterThan(0.07);
    expect(share('a')).toBeLessThan(0.18);
  });

  it('with nothing in flight, picks spread by weight', () => {
    const items = [
      { key: 'light', weight: 1 },
      { key: 'light2', weight: 1 },
      { key: 'heavy', weight: 3 },
    ];
    const random = seededRandom(3);
    const counts = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const k = pickP2C(items, () => 0, random).key;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    // Equal in-flight: the higher weight wins any pair it is drawn into. The lights win only when
    // drawn together (2 × 0.2 × 0.25 = 0.1), each half of that: 0.05 each, heavy 0.9.
    expect(counts.get('heavy')! / 5000).toBeGreaterThan(0.85);
    expect(counts.get('light')! / 5000).toBeGreaterThan(0.03);
    expect(counts.get('light')! / 5000).toBeLessThan(0.08);
  });
});
