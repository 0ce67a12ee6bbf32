/**
 * Asynchronous invocations keep to residency: the region that accepts one stores the event (its
 * invocation record, and the DLQ entry if it fails for good), so an event naming a user whose
 * rules keep their data elsewhere (CloudEvents `subject` or the `mrduser` extension) is refused
 * there with 403 RESIDENCY_FORBIDDEN and accepted in a region the rules allow. Real region nodes
 * with the services module on the embedded bus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { servicesModules } from '../../src/runtime/services.js';
import { DEFAULT_TOPOLOGY_YAML, parseTopology } from '../../src/topology/mod.js';

const YAML = `${DEFAULT_TOPOLOGY_YAML.replace(/residency:\n(?: {2}.*\n)+/, `residency:
  - { name: gdpr, users: ["eu-*"], jurisdictions: [EU] }
`)}functions:
  resize: {}
`;

const event = (subject: Record<string, string>): Record<string, string> => ({ 'ce-specversion': '1.0', 'ce-id': `e${Math.random()}`, 'ce-source': '/test', 'ce-type': 't.resize', 'content-type': 'application/json', prefer: 'respond-async', ...subject });

describe('asynchronous invocations under residency rules', () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(parseTopology(YAML, 'functions.yaml'), { dataDir: ':memory:', region: { modules: servicesModules('residency-functions-token-0123456789') } });
  }, 60_000);
  afterAll(async () => {
    await d?.close();
  });

  const invoke = async (region: string, headers: Record<string, string>): Promise<{ status: number; code?: string }> => {
    const r = await fetch(`${d.urls[region]!}/v1/functions/resize`, { method: 'POST', headers, body: '{}' });
    const body = (await r.json()) as { error?: { code: string } };
    return { status: r.status, ...(body.error === undefined ? {} : { code: body.error.code }) };
  };

  it('an event naming an EU user is refused outside the EU, by subject or by the mrduser extension', async () => {
    expect(await invoke('us-east', event({ 'ce-subject': 'eu-anna' }))).toEqual({ status: 403, code: 'RESIDENCY_FORBIDDEN' });
    expect(await invoke('ap-southeast', event({ 'ce-mrduser': 'eu-anna' }))).toEqual({ status: 403, code: 'RESIDENCY_FORBIDDEN' });
  });

  it('is accepted where the rules allow, and events naming no covered user anywhere', async () => {
    expect((await invoke('eu-west', event({ 'ce-subject': 'eu-anna' }))).status).toBe(202);
    expect((await invoke('us-east', event({ 'ce-subject': 'bob' }))).status).toBe(202);
    expect((await invoke('us-east', event({}))).status).toBe(202);
  });
});
