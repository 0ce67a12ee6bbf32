/**
 * The services module mounted in real region nodes (`startDeployment`, embedded bus), the way
 * `meridian up` wires it: a worker registers with one region's node and is called through
 * another's; the node's own endpoints keep working next to the module's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServicesModule, generateWorkerToken } from '../../src/services/mod.js';
import { startDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { serve } from '../../src/worker/mod.js';
import type { Worker } from '../../src/worker/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';

describe('services in a region node (embedded deployment)', () => {
  let d: Deployment;
  let worker: Worker | undefined;
  const token = generateWorkerToken();
  const ADMIN = 'region-node-admin-token-0000';
  beforeAll(async () => {
    d = await startDeployment(defaultTopology(), {
      bus: 'embedded',
      dataDir: ':memory:',
      region: {
        node: { auth: { dev: true }, adminToken: ADMIN },
        modules: async (p) => [await createServicesModule({ bus: p.bus, region: p.region, topology: p.topology, registrationToken: token, dataDir: ':memory:', egress: { allowLoopback: true } })],
      },
    });
  }, 30_000);
  afterAll(async () => {
    await worker?.close();
    await d?.close();
  });

  it('registers with eu-west and is called through ap-southeast', async () => {
    worker = await serve({ node: d.urls['eu-west']!, token, id: 'node-w1', handleSignals: false, services: { hello: (_req, res) => res.end('hi from eu-west') } });
    const end = Date.now() + 10_000;
    let res: Response;
    for (;;) {
      res = await fetch(`${d.urls['ap-southeast']}/v1/services/hello/`);
      if (res.status === 200 || Date.now() > end) break;
      await res.text();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hi from eu-west');
    expect(res.headers.get('x-meridian-region')).toBe('eu-west');
    const list = (await (await fetch(`${d.urls['us-east']}/v1/services`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { services: Array<{ name: string }> };
    expect(list.services.map((s) => s.name)).toContain('hello');
    const unauth = await fetch(`${d.urls['us-east']}/v1/workers`, { method: 'POST', body: '{}' });
    expect(unauth.status).toBe(401);
  });
});
