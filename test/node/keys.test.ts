/**
 * API keys on a real production region node (JWT auth, the services module, the audit trail),
 * the keys file edited with `meridian keys` while it runs: a `send` key sends as the user it
 * names but reaches no admin endpoint; `admin` reaches the node's admin endpoints but not the
 * DLQ; `dlq` and `services` open their rows only; an unknown, revoked or expired key is 401 and
 * a key lacking the scope 403; revoking takes effect within a couple of seconds without a
 * restart; a malformed file keeps the last good set; reloads and admin actions are audited by
 * key id, never by key; the deprecated admin token still works as a key with every scope.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/mod.js';
import { main } from '../../src/cli/main.js';
import { createKey, KeyRing, newKeyRecord, readKeysFile, writeKeysFile } from '../../src/keys/mod.js';
import type { CreatedKey } from '../../src/keys/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { servicesModules } from '../../src/runtime/services.js';
import { TestClient, eventually } from './client.js';
import { SECRET, hsToken, oneRegion } from './fixtures.js';

const ADMIN_TOKEN = 'keys-test-admin-token-000000';
const WORKER = 'keys-test-worker-token-00000';

const dir = mkdtempSync(join(tmpdir(), 'mrd-node-keys-'));
const file = join(dir, 'keys.json');
let ring: KeyRing;
let d: Deployment;
let url: string;
const k: Record<'admin' | 'send' | 'dlq' | 'services' | 'expired', CreatedKey> = {} as never;

const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

async function status(path: string, key: string | undefined, init: RequestInit = {}): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), ...(key === undefined ? {} : bearer(key)) } });
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: res.status, code };
}

const send = (key: string | undefined, body: unknown): Promise<{ status: number; code: string | undefined }> =>
  status('/v1/messages', key, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function audit(): Promise<AuditEntry[]> {
  const res = await fetch(`${url}/v1/audit?limit=1000`, { headers: bearer(k.admin.key) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: AuditEntry[] }).entries;
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

beforeAll(async () => {
  k.admin = await createKey(file, { scopes: ['admin'], note: 'operator' });
  k.send = await createKey(file, { scopes: ['send'], note: 'server-side sender' });
  k.dlq = await createKey(file, { scopes: ['dlq'] });
  k.services = await createKey(file, { scopes: ['services'] });
  // Made ten seconds ago, expired five seconds ago (written as an operator's file would be).
  k.expired = newKeyRecord({ scopes: ['admin', 'send'], now: Date.now() - 10_000, expiresAt: Date.now() - 5000 });
  await writeKeysFile(file, [...(await readKeysFile(file)), k.expired.record]);
  ring = await KeyRing.open(file);
  d = await startEmbeddedDeployment(oneRegion(), {
    dataDir: dir,
    region: { node: { auth: { hs256Secret: SECRET }, keys: ring, adminToken: ADMIN_TOKEN }, modules: servicesModules(WORKER, { egress: { allowLoopback: true } }) },
  });
  url = d.urls['solo']!;
}, 30_000);

afterAll(async () => {
  await d?.close();
  ring?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('API keys on a region node', () => {
  it('a send key sends as the user it names, to users and rooms, and reaches no admin endpoint', async () => {
    const bob = await TestClient.token(`${url.replace('http', 'ws')}/ws`, await hsToken({ sub: 'bob' }));
    try {
      const sent = await send(k.send.key, { from: 'alice', to: { user: 'bob' }, body: { text: 'from the server' }, clientMsgId: 'srv-1' });
      expect(sent.status).toBe(201);
      expect(await bob.next('message')).toMatchObject({ from: 'alice', body: { text: 'from the server' } });
      expect((await send(k.send.key, { from: 'billing', to: { room: 'any-room' }, body: 1, clientMsgId: 'srv-2' })).status).toBe(201);
      // The sender must be named.
      expect(await send(k.send.key, { to: { user: 'bob' }, body: 1, clientMsgId: 'srv-3' })).toEqual({ status: 400, code: 'INVALID_FIELD' });
    } finally {
      await bob.close();
    }
    expect(await status('/v1/audit', k.send.key)).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await status('/v1/admin/drain', k.send.key, { method: 'POST' })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await status('/v1/dlq', k.send.key)).toEqual({ status: 403, code: 'SVC_FORBIDDEN' });
    expect(await status('/v1/services', k.send.key)).toEqual({ status: 403, code: 'SVC_FORBIDDEN' });
    expect(await status('/v1/services/echo/x', k.send.key)).toEqual({ status: 403, code: 'SVC_FORBIDDEN' });
    // A key carries no user: presence and history take client tokens.
    expect(await status('/v1/presence/bob', k.send.key)).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('each scope opens its own rows only', async () => {
    expect((await status('/v1/audit', k.admin.key)).status).toBe(200);
    expect((await status('/v1/services', k.admin.key)).status).toBe(200);
    expect(await status('/v1/dlq', k.admin.key)).toEqual({ status: 403, code: 'SVC_FORBIDDEN' });
    expect(await send(k.admin.key, { from: 'alice', to: { user: 'bob' }, body: 1, clientMsgId: 'a-1' })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect((await status('/v1/dlq', k.dlq.key)).status).toBe(200);
    expect(await status('/v1/audit', k.dlq.key)).toEqual({ status: 403, code: 'FORBIDDEN' });
    // services: calls and invocations pass the credential check (then: no such invocation).
    expect((await status('/v1/invocations/nope', k.services.key)).status).toBe(404);
    expect(await status('/v1/invocations/nope', k.dlq.key)).toEqual({ status: 403, code: 'SVC_FORBIDDEN' });
    expect((await status('/v1/services/echo/x', k.services.key)).code).not.toMatch(/SVC_(FORBIDDEN|UNAUTHORIZED)/);
    expect(await status('/v1/services', k.services.key)).toEqual({ status: 403, code: 'SVC_FORBIDDEN' });
  });

  it('refuses unknown and expired keys with 401, never as a JWT or anonymous', async () => {
    const unknown = `mrd_0123456789abcdef_${'A'.repeat(43)}`;
    const forged = `${k.admin.key.slice(0, -3)}${k.admin.key.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    for (const key of [unknown, forged, k.expired.key]) {
      expect(await status('/v1/audit', key)).toEqual({ status: 401, code: 'AUTH_FAILED' });
      expect(await status('/v1/admin/drain', key, { method: 'POST' })).toEqual({ status: 401, code: 'AUTH_FAILED' });
      expect(await status('/v1/dlq', key)).toEqual({ status: 401, code: 'SVC_UNAUTHORIZED' });
      expect(await send(key, { from: 'alice', to: { user: 'bob' }, body: 1, clientMsgId: 'u-1' })).toEqual({ status: 401, code: 'AUTH_FAILED' });
    }
    const res = await fetch(`${url}/v1/audit`, { headers: bearer(k.expired.key) });
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(`API key ${k.expired.record.id} has expired`);
  });

  it('the deprecated admin token is a key with every scope', async () => {
    expect((await status('/v1/audit', ADMIN_TOKEN)).status).toBe(200);
    expect((await status('/v1/dlq', ADMIN_TOKEN)).status).toBe(200);
    expect((await send(ADMIN_TOKEN, { from: 'ops', to: { user: 'bob' }, body: 1, clientMsgId: 't-1' })).status).toBe(201);
  });

  it('revoking and adding keys with meridian keys takes effect within a couple of seconds, audited by key id', async () => {
    expect((await send(k.send.key, { from: 'alice', to: { user: 'bob' }, body: 1, clientMsgId: 'r-1' })).status).toBe(201);
    const revoked = await cli(['keys', 'revoke', '--file', file, k.send.record.id]);
    expect(revoked.code, revoked.err).toBe(0);
    const t0 = Date.now();
    await eventually(async () => (await send(k.send.key, { from: 'alice', to: { user: 'bob' }, body: 1, clientMsgId: 'r-2' })).status === 401, 'the revoked key to be refused', 2500);
    expect(Date.now() - t0).toBeLessThan(2500);

    const made = await cli(['keys', 'create', '--file', file, '--scopes', 'send', '--json']);
    const fresh = JSON.parse(made.out) as { id: string; key: string };
    await eventually(async () => (await send(fresh.key, { from: 'carol', to: { user: 'bob' }, body: 1, clientMsgId: 'r-3' })).status === 201, 'the new key to be accepted', 2500);

    const entries = await audit();
    expect(entries.find((e) => e.action === 'keys.removed' && e.target === k.send.record.id)).toMatchObject({ actor: { kind: 'admin', id: 'keys-file' }, outcome: 'ok' });
    expect(entries.find((e) => e.action === 'keys.added' && e.target === fresh.id)).toBeDefined();
    const text = JSON.stringify(entries);
    for (const key of [k.admin.key, k.send.key, fresh.key, ADMIN_TOKEN]) expect(text).not.toContain(key);
    // Refused keys are recorded by the id they claimed (refusals fold per address and minute).
    expect(entries.some((e) => e.action === 'auth.refused' && /^key:[0-9a-f]{16}$/.test(e.actor.id ?? ''))).toBe(true);
  });

  it('a malformed keys file keeps the last good set in force', async () => {
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, '{ "version": 1, "keys": [ { "id": ');
    await eventually(() => ring.lastError !== undefined, 'the node to see the malformed file', 2500);
    expect((await status('/v1/audit', k.admin.key)).status).toBe(200);
    expect((await status('/v1/dlq', k.dlq.key)).status).toBe(200);
    writeFileSync(file, good);
    await eventually(() => ring.lastError === undefined, 'the good file again', 2500);
    expect((await status('/v1/audit', k.admin.key)).status).toBe(200);
  });

  it('an admin key drains the node, recorded in the audit trail by its id', async () => {
    const res = await fetch(`${url}/v1/admin/drain`, { method: 'POST', headers: bearer(k.admin.key) });
    expect(res.status).toBe(202);
    // The answer states the node's drain deadline: the edge waits that long, not its default.
    expect(await res.json()).toMatchObject({ draining: true, restarting: true, deadlineMs: 30_000 });
    await eventually(async () => (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200, 'the node to be back', 15_000);
    const drains = (await audit()).filter((e) => e.action === 'admin.drain');
    expect(drains.find((e) => e.outcome === 'ok')).toMatchObject({ actor: { kind: 'admin', id: k.admin.record.id } });
    expect(drains.find((e) => e.outcome === 'refused' && e.actor.id === k.send.record.id)).toMatchObject({ status: 403 });
  }, 20_000);
});
