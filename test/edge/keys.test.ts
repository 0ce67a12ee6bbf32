/**
 * API keys at the edge, in front of real region nodes reading the same keys file: the admin
 * endpoints need a key with the `admin` scope (403 EDGE_FORBIDDEN without it, 401 for none or
 * an unknown key), a region drained through the edge reaches its node with the operator's own
 * key (audited there by key id), the dashboard feed takes the same key, and revoking the key in
 * the file locks the edge and the nodes out within a couple of seconds, without a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/mod.js';
import { main } from '../../src/cli/main.js';
import { startEdge } from '../../src/edge/server/mod.js';
import type { Edge } from '../../src/edge/server/mod.js';
import { createKey, KeyRing } from '../../src/keys/mod.js';
import type { CreatedKey } from '../../src/keys/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { eventually } from '../node/client.js';
import { threeRegions } from '../node/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mrd-edge-keys-'));
const file = join(dir, 'keys.json');
let ring: KeyRing;
let d: Deployment;
let edge: Edge;
let admin: CreatedKey;
let sender: CreatedKey;
const downs: string[] = [];

const post = async (path: string, key?: string): Promise<{ status: number; code: string | undefined }> => {
  const res = await fetch(`${edge.url}${path}`, { method: 'POST', headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code };
};

beforeAll(async () => {
  admin = await createKey(file, { scopes: ['admin'], note: 'operator' });
  sender = await createKey(file, { scopes: ['send', 'services', 'dlq'] });
  ring = await KeyRing.open(file);
  const topology = threeRegions();
  d = await startEmbeddedDeployment(topology, { dataDir: dir, region: { node: { keys: ring } } });
  edge = await startEdge({
    topology,
    regionUrls: d.urls,
    port: 0,
    geoip: null,
    keys: ring,
    onRegionDown: (r) => void downs.push(r),
  });
}, 30_000);

afterAll(async () => {
  await edge?.close();
  await d?.close();
  ring?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('API keys at the edge', () => {
  it('the admin endpoints need a key with the admin scope', async () => {
    expect(await post('/v1/admin/regions/eu-west/down')).toEqual({ status: 401, code: 'EDGE_UNAUTHORIZED' });
    expect(await post('/v1/admin/regions/eu-west/down', `mrd_0123456789abcdef_${'A'.repeat(43)}`)).toEqual({ status: 401, code: 'EDGE_UNAUTHORIZED' });
    expect(await post('/v1/admin/regions/eu-west/down', 'not-a-key-not-a-key')).toEqual({ status: 401, code: 'EDGE_UNAUTHORIZED' });
    expect(await post('/v1/admin/regions/eu-west/down', sender.key)).toEqual({ status: 403, code: 'EDGE_FORBIDDEN' });
    expect(downs).toEqual([]);
    expect((await post('/v1/admin/regions/eu-west/down', admin.key)).status).toBe(202);
    expect(downs).toEqual(['eu-west']);
  });

  it('the dashboard feed takes the same admin key', async () => {
    const feed = async (key: string): Promise<number> => {
      const ac = new AbortController();
      const res = await fetch(`${edge.url}/dashboard/events`, { headers: { authorization: `Bearer ${key}` }, signal: ac.signal });
      ac.abort();
      return res.status;
    };
    expect(await feed(admin.key)).toBe(200);
    expect(await feed(sender.key)).not.toBe(200);
  });

  it('draining a region through the edge reaches its node with the operator key, audited there by key id', async () => {
    const r = await post('/v1/admin/regions/ap-southeast/drain', admin.key);
    expect(r.status).toBe(202);
    const url = d.urls['ap-southeast']!;
    let drained: AuditEntry | undefined;
    await eventually(async () => {
      const res = await fetch(`${url}/v1/audit?action=admin.drain`, { headers: { authorization: `Bearer ${admin.key}` } }).catch(() => undefined);
      if (res?.status !== 200) return false;
      drained = ((await res.json()) as { entries: AuditEntry[] }).entries.find((e) => e.outcome === 'ok');
      return drained !== undefined;
    }, 'the node to record the drain', 15_000);
    expect(drained!.actor).toEqual({ kind: 'admin', id: admin.record.id });
  }, 20_000);

  it('a key revoked in the file is refused by the edge and the nodes within a couple of seconds', async () => {
    expect((await post('/v1/admin/regions/eu-west/down', admin.key)).status).toBe(202);
    const revoke = await main(['keys', 'revoke', '--file', file, admin.record.id], { out: () => undefined, err: () => undefined });
    expect(revoke).toBe(0);
    const t0 = Date.now();
    await eventually(async () => (await post('/v1/admin/regions/eu-west/down', admin.key)).status === 401, 'the edge to refuse the revoked key', 2500);
    await eventually(async () => (await fetch(`${d.urls['us-east']}/v1/audit`, { headers: { authorization: `Bearer ${admin.key}` } })).status === 401, 'the node to refuse it', 2500);
    expect(Date.now() - t0).toBeLessThan(2500);
  });
});
