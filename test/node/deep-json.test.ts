// Deeply nested JSON sent over HTTP is the sender's mistake: 400 with a typed error, never a 500
// from a stack overflow in whatever recursed over it after parsing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { servicesModules } from '../../src/runtime/services.js';
import { parseTopology } from '../../src/topology/mod.js';

const ADMIN = 'deep-json-admin-token-0000';
const WORKER = 'deep-json-worker-token-000';
const deep = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

describe('deeply nested JSON bodies', () => {
  let d: Deployment;
  let url: string;
  beforeAll(async () => {
    const topology = parseTopology('regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\nfunctions:\n  f: {}\n', '<deep>');
    d = await startEmbeddedDeployment(topology, { dataDir: ':memory:', region: { node: { auth: { dev: true }, adminToken: ADMIN }, modules: servicesModules(WORKER, { egress: { allowLoopback: true } }) } });
    url = d.urls['solo']!;
  });
  afterAll(async () => {
    await d?.close();
  });

  it('answers 400 on the node API, the registry and structured CloudEvents', async () => {
    const cases: Array<[string, string, Record<string, string>, string]> = [
      ['/v1/messages', `{"from":"a","to":{"user":"b"},"clientMsgId":"k","body":${deep(5000)}}`, { 'content-type': 'application/json' }, 'INVALID_FIELD'],
      ['/v1/workers', deep(5000), { authorization: `Bearer ${WORKER}`, 'content-type': 'application/json' }, 'INVALID_ARGUMENT'],
      ['/v1/functions/f', `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":${deep(5000)}}`, { 'content-type': 'application/cloudevents+json' }, 'SVC_INVALID_EVENT'],
    ];
    for (const [path, body, headers, code] of cases) {
      const res = await fetch(`${url}${path}`, { method: 'POST', body, headers });
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code, path).toBe(code);
    }
    // Within the limit it still works.
    const ok = await fetch(`${url}/v1/messages`, { method: 'POST', body: `{"from":"a","to":{"user":"b"},"clientMsgId":"k","body":${deep(10)}}`, headers: { 'content-type': 'application/json' } });
    expect(ok.status).toBe(201);
  });
});
