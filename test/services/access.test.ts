/**
 * Who may call the services module on a real region node (docs/services.md, "Credentials"):
 * a production node (HS256 client tokens, an admin token) refuses every anonymous call the
 * security review found open; client tokens reach only the services and functions their claims
 * name; operator endpoints (worker listings, the DLQ) need the admin token — never a client
 * token, never the worker registration token. A dev-mode node leaves only the client-facing
 * endpoints open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { createServicesModule, generateWorkerToken } from '../../src/services/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import { serve } from '../../src/worker/mod.js';
import type { Worker } from '../../src/worker/mod.js';
import { SECRET, hsToken } from '../node/fixtures.js';

const topology = parseTopology(
  `regions:
  - name: solo
    location: { lat: 50, lon: 8 }
    jurisdiction: EU
functions:
  flaky:
    async: { maxAttempts: 2, backoffMs: 10 }
  greet: {}
`,
  '<access>',
);
const ADMIN = 'admin-token-of-at-least-16-chars';
const WORKER = generateWorkerToken();

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function start(dev: boolean): Promise<Deployment> {
  return startDeployment(topology, {
    dataDir: ':memory:',
    region: {
      node: { auth: dev ? { dev: true } : { hs256Secret: SECRET }, adminToken: ADMIN },
      modules: async (p) => [await createServicesModule({ bus: p.bus, region: p.region, topology: p.topology, registrationToken: WORKER, dataDir: ':memory:', egress: { allowLoopback: true } })],
    },
  });
}

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });
const event = (type: string): Record<string, string> => ({ 'ce-specversion': '1.0', 'ce-id': `e-${Math.random()}`, 'ce-source': '/tests', 'ce-type': type, 'content-type': 'application/json' });

describe('services module access on a production node', () => {
  let d: Deployment;
  let url: string;
  let worker: Worker;
  let invocation: string;
  let letter: string;
  beforeAll(async () => {
    d = await start(false);
    url = d.urls['solo']!;
    worker = await serve({
      node: url,
      token: WORKER,
      id: 'acc-w',
      handleSignals: false,
      services: { echo: (_req, res) => res.end('echoed'), secret: (_req, res) => res.end('the secret service') },
      functions: { flaky: () => { throw new Error('always fails'); }, greet: () => ({ hello: 'world' }) },
    });
    // A dead letter and an invocation to read, made by the operator.
    const r = await fetch(`${url}/v1/functions/flaky`, { method: 'POST', headers: { ...event('t.flaky'), ...bearer(ADMIN), prefer: 'respond-async' }, body: '{}' });
    expect(r.status).toBe(202);
    invocation = ((await r.json()) as { id: string }).id;
    letter = await until(async () => {
      const res = await fetch(`${url}/v1/dlq`, { headers: bearer(ADMIN) });
      const body = (await res.json()) as { letters: Array<{ id: string }> };
      return body.letters[0]?.id;
    }, 'a dead letter');
  }, 30_000);
  afterAll(async () => {
    await worker?.close();
    await d?.close();
  });

  const operatorCalls = (): Array<[string, string]> => [
    ['GET', '/v1/services'],
    ['GET', '/v1/services/echo'],
    ['GET', '/v1/services/echo/endpoints'],
    ['GET', '/v1/functions'],
    ['GET', '/v1/functions/greet'],
    ['GET', '/v1/dlq'],
    ['GET', `/v1/dlq/${letter}`],
    ['POST', `/v1/dlq/${letter}/replay`],
    ['DELETE', `/v1/dlq/${letter}`],
  ];
  const clientCalls = (): Array<[string, string, Record<string, string>?]> => [
    ['GET', '/v1/services/echo/'],
    ['POST', '/v1/functions/greet', event('t.greet')],
    ['POST', '/v1/functions/greet', { ...event('t.greet'), prefer: 'respond-async' }],
    ['GET', `/v1/invocations/${invocation}`],
  ];

  it('refuses every anonymous call with 401 (operator and client-facing alike)', async () => {
    for (const [method, path, headers] of [...operatorCalls(), ...clientCalls()]) {
      const res = await fetch(`${url}${path}`, { method, headers: headers ?? {}, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SVC_UNAUTHORIZED');
    }
  });

  it('refuses the worker registration token and forged tokens everywhere but /v1/workers', async () => {
    for (const t of [WORKER, 'not-a-jwt', await hsToken({ sub: 'mallory', services: ['*'], functions: ['*'] }, { secret: 'another-secret-of-16-chars!' })]) {
      for (const [method, path, headers] of [...operatorCalls(), ...clientCalls()]) {
        const res = await fetch(`${url}${path}`, { method, headers: { ...(headers ?? {}), ...bearer(t) }, ...(method === 'POST' ? { body: '{}' } : {}) });
        expect(res.status, `${method} ${path}`).toBe(401);
        await res.arrayBuffer();
      }
    }
  });

  it('lets a client token call only the services and functions its claims name, and never the operator endpoints', async () => {
    const alice = await hsToken({ sub: 'alice', services: ['ech*'], functions: ['greet'] });
    const svc = await fetch(`${url}/v1/services/echo/`, { headers: bearer(alice) });
    expect(svc.status).toBe(200);
    expect(await svc.text()).toBe('echoed');
    const other = await fetch(`${url}/v1/services/secret/`, { headers: bearer(alice) });
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('SVC_FORBIDDEN');
    const fn = await fetch(`${url}/v1/functions/greet`, { method: 'POST', headers: { ...event('t.greet'), ...bearer(alice) }, body: '{}' });
    expect(fn.status).toBe(200);
    expect(await fn.json()).toEqual({ hello: 'world' });
    const flaky = await fetch(`${url}/v1/functions/flaky`, { method: 'POST', headers: { ...event('t.flaky'), ...bearer(alice) }, body: '{}' });
    expect(flaky.status).toBe(403);
    await flaky.arrayBuffer();
    // The operator's invocation of flaky is not hers to see (not even that it exists).
    expect((await fetch(`${url}/v1/invocations/${invocation}`, { headers: bearer(alice) })).status).toBe(404);
    const own = await fetch(`${url}/v1/functions/greet`, { method: 'POST', headers: { ...event('t.greet'), ...bearer(alice), prefer: 'respond-async' }, body: '{}' });
    expect(own.status).toBe(202);
    const id = ((await own.json()) as { id: string }).id;
    expect((await fetch(`${url}/v1/invocations/${id}`, { headers: bearer(alice) })).status).toBe(200);
    for (const [method, path] of operatorCalls()) {
      const res = await fetch(`${url}${path}`, { method, headers: bearer(alice) });
      expect(res.status, `${method} ${path}`).toBe(403);
      await res.arrayBuffer();
    }
    // No claims at all: no services, no functions.
    const bob = await hsToken({ sub: 'bob' });
    expect((await fetch(`${url}/v1/services/echo/`, { headers: bearer(bob) })).status).toBe(403);
  });

  it('lets the admin token do everything, last of all replay and delete the dead letter', async () => {
    for (const [method, path, headers] of [...clientCalls(), ...operatorCalls()]) {
      const res = await fetch(`${url}${path}`, { method, headers: { ...(headers ?? {}), ...bearer(ADMIN) }, ...(method === 'POST' && !path.includes('/dlq/') ? { body: '{}' } : {}) });
      // The replay fails again (the handler still throws): 502 with the outcome recorded.
      const expected = path.endsWith('/replay') ? 502 : method === 'DELETE' ? 204 : undefined;
      if (expected !== undefined) expect(res.status, `${method} ${path}`).toBe(expected);
      else expect(res.status, `${method} ${path}`).toBeLessThan(300);
      await res.arrayBuffer();
    }
    expect((await fetch(`${url}/v1/dlq/${letter}`, { headers: bearer(ADMIN) })).status).toBe(404);
  });
});

describe('services module access on a dev-mode node', () => {
  let d: Deployment;
  let url: string;
  let worker: Worker;
  beforeAll(async () => {
    d = await start(true);
    url = d.urls['solo']!;
    worker = await serve({ node: url, token: WORKER, id: 'dev-w', handleSignals: false, services: { echo: (_req, res) => res.end('echoed') }, functions: { greet: () => ({ hello: 'dev' }) } });
  }, 30_000);
  afterAll(async () => {
    await worker?.close();
    await d?.close();
  });

  it('leaves the client-facing endpoints open and the operator endpoints closed', async () => {
    expect((await fetch(`${url}/v1/services/echo/`)).status).toBe(200);
    expect((await fetch(`${url}/v1/functions/greet`, { method: 'POST', headers: event('t.greet'), body: '{}' })).status).toBe(200);
    for (const path of ['/v1/services', '/v1/services/echo', '/v1/functions', '/v1/dlq']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(401);
      await res.arrayBuffer();
      expect((await fetch(`${url}${path}`, { headers: bearer(ADMIN) })).status, path).toBe(200);
    }
  });
});
