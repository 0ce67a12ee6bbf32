/**
 * The audit trail: both stores answer the same queries (newest first, paging, action filters);
 * refusals are folded per action and address per minute; and through a real production node
 * (JWT auth, an API keys file, the services module, a real worker), GET /v1/audit shows a worker
 * registering and deregistering, a dead letter replayed and deleted by a `dlq` key (named by its
 * id), refusals naming whom they refused (a user, a key lacking the scope, an unknown key, no
 * credential) and a WebSocket refused for a bad token; to the admin token only, with no
 * credential or body in any entry, and across a restart over the same data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/mod.js';
import type { AuditEntry, AuditStore } from '../../src/audit/mod.js';
import { KvAuditStore } from '../../src/audit/kv.js';
import { SqliteAuditStore } from '../../src/audit/sqlite.js';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import { servicesModules } from '../../src/runtime/services.js';
import { createKey, KeyRing, newKeyRecord } from '../../src/keys/mod.js';
import { CloseCode } from '../../src/protocol/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import { serve } from '../../src/worker/mod.js';
import { TestClient, eventually } from '../node/client.js';
import { SECRET, hsToken } from '../node/fixtures.js';

const entry = (n: number, action: string): AuditEntry => ({ id: `${String(1_000 + n).padStart(13, '0')}-0000000${n % 10}`, at: 1_000 + n, region: 'solo', actor: { kind: 'admin' }, action, outcome: 'ok' });

async function stores(): Promise<Array<[string, AuditStore, () => Promise<void>]>> {
  const net = new EmbeddedNetwork([{ name: 'solo', lat: 0, lon: 0 }]);
  const bus = net.connect('solo');
  return [
    ['sqlite', new SqliteAuditStore(':memory:', 1e12), () => Promise.resolve()],
    ['kv', await KvAuditStore.open(bus, 60_000), async () => { await bus.close(); await net.close(); }],
  ];
}

describe('audit stores', () => {
  it('answer newest first, page with before, filter by action and prefix (both stores)', async () => {
    for (const [kind, store, done] of await stores()) {
      for (let i = 0; i < 12; i++) await store.append(entry(i, i % 3 === 0 ? 'dlq.replay' : i % 3 === 1 ? 'dlq.delete' : 'worker.register'));
      const first = await store.query({ limit: 5 });
      expect(first.map((e) => e.at), kind).toEqual([1011, 1010, 1009, 1008, 1007]);
      const next = await store.query({ limit: 5, before: first[4]!.id });
      expect(next.map((e) => e.at), kind).toEqual([1006, 1005, 1004, 1003, 1002]);
      expect((await store.query({ action: 'worker.register' })).map((e) => e.at), kind).toEqual([1011, 1008, 1005, 1002]);
      expect((await store.query({ action: 'dlq.' })).length, kind).toBe(8);
      await expect(store.query({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await store.close();
      await done();
    }
  });

  it('folds repeated refusals from one address into one entry with a count', async () => {
    const store = new SqliteAuditStore(':memory:', 1e12);
    const log = new AuditLog(store, 'solo');
    for (let i = 0; i < 5; i++) log.record({ actor: { kind: 'anonymous' }, action: 'auth.refused', from: '10.0.0.1', outcome: 'refused', status: 401 });
    log.record({ actor: { kind: 'anonymous' }, action: 'auth.refused', from: '10.0.0.2', outcome: 'refused', status: 401 });
    expect((await log.query({})).length).toBe(2);
    const all = await new Promise<AuditEntry[]>((resolve) => {
      // close() writes the folded counts before closing the store: read them through a spy.
      const seen: AuditEntry[] = [];
      const spy: AuditStore = { kind: 'sqlite', append: (e) => (seen.push(e), store.append(e)), query: (q) => store.query(q), close: () => Promise.resolve() };
      const log2 = new AuditLog(spy, 'solo');
      for (let i = 0; i < 4; i++) log2.record({ actor: { kind: 'anonymous' }, action: 'auth.refused', from: '10.0.0.3', outcome: 'refused' });
      void log2.close().then(() => resolve(seen));
    });
    expect(all.map((e) => e.count)).toEqual([undefined, 3]);
    await log.close();
  });
});

const topology = parseTopology(
  `regions:
  - name: solo
    location: { lat: 50, lon: 8 }
    jurisdiction: EU
functions:
  flaky:
    async: { maxAttempts: 2, backoffMs: 10 }
`,
  '<audit>',
);

describe('audit through a production node', () => {
  it('records workers, DLQ actions by key id, refusals by whom they refused, for the admin token only, and keeps them across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mrd-audit-'));
    const ADMIN = 'audit-admin-token-00000000';
    const WORKER = 'audit-worker-token-0000000';
    const keysFile = join(dir, 'keys.json');
    const dlqKey = await createKey(keysFile, { scopes: ['dlq'], note: 'dlq operator' });
    const servicesKey = await createKey(keysFile, { scopes: ['services'] });
    // Well formed, but in no keys file: the node knows only its id.
    const unknownKey = newKeyRecord({ scopes: ['admin'] });
    const ring = await KeyRing.open(keysFile);
    const start = () => startEmbeddedDeployment(topology, { dataDir: dir, region: { node: { auth: { hs256Secret: SECRET }, adminToken: ADMIN, keys: ring }, modules: servicesModules(WORKER, { egress: { allowLoopback: true } }) } });
    const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });
    try {
      let d = await start();
      let url = d.urls['solo']!;
      const worker = await serve({ node: url, token: WORKER, id: 'aw1', handleSignals: false, functions: { flaky: () => { throw new Error('always fails'); } } });
      // A real dead letter: an async invocation whose handler always throws.
      const inv = await fetch(`${url}/v1/functions/flaky`, { method: 'POST', headers: { ...bearer(ADMIN), 'ce-specversion': '1.0', 'ce-id': 'e-1', 'ce-source': '/tests', 'ce-type': 't.flaky', 'content-type': 'application/json', prefer: 'respond-async' }, body: '{"secret-body":"never in the audit"}' });
      expect(inv.status).toBe(202);
      let letter = '';
      await eventually(async () => {
        const res = await fetch(`${url}/v1/dlq`, { headers: bearer(dlqKey.key) });
        letter = ((await res.json()) as { letters: Array<{ id: string }> }).letters[0]?.id ?? '';
        return letter !== '';
      }, 'a dead letter', 10_000);
      // The handler still throws: the replay fails (502), and is recorded as failed.
      const replay = await fetch(`${url}/v1/dlq/${letter}/replay`, { method: 'POST', headers: bearer(dlqKey.key) });
      expect(replay.status).toBe(502);
      await replay.arrayBuffer();
      expect((await fetch(`${url}/v1/dlq/${letter}`, { method: 'DELETE', headers: bearer(dlqKey.key) })).status).toBe(204);
      await worker.close();
      // Refusals, one per action (refusals fold per action and address): each names whom it refused.
      const refused = async (path: string, headers: Record<string, string>, status: number): Promise<void> => {
        const res = await fetch(`${url}${path}`, { headers });
        expect(res.status, path).toBe(status);
        await res.arrayBuffer();
      };
      await refused('/v1/dlq', bearer(servicesKey.key), 403);
      await refused('/v1/functions', bearer(await hsToken({ sub: 'alice' })), 403);
      await refused('/v1/services', bearer(unknownKey.key), 401);
      await refused('/v1/invocations/nope', {}, 401);
      await refused('/v1/workers', bearer('wrong-token-wrong-token'), 401);
      const ws = await TestClient.open(`${url.replace('http', 'ws')}/ws`);
      ws.send({ type: 'auth', id: 'a', token: 'not.a.jwt' });
      expect((await ws.closed).code).toBe(CloseCode.AUTH_FAILED);
      // Only the admin token reads it.
      expect((await fetch(`${url}/v1/audit`)).status).toBe(401);
      expect((await fetch(`${url}/v1/audit`, { headers: bearer(await hsToken({ sub: 'alice' })) })).status).toBe(403);
      expect((await fetch(`${url}/v1/audit`, { headers: bearer(dlqKey.key) })).status).toBe(403);
      const read = async (): Promise<AuditEntry[]> => ((await (await fetch(`${url}/v1/audit?limit=1000`, { headers: bearer(ADMIN) })).json()) as { entries: AuditEntry[] }).entries;
      let entries: AuditEntry[] = [];
      await eventually(async () => (entries = await read()).some((e) => e.action === 'auth.refused'), 'the WebSocket refusal in the trail', 5000);
      const one = (action: string): AuditEntry | undefined => entries.find((e) => e.action === action);
      const from = (e: AuditEntry | undefined): string => e?.from ?? '';
      expect(one('worker.register')).toMatchObject({ target: 'aw1', actor: { kind: 'worker' }, region: 'solo', outcome: 'ok', status: 201 });
      expect(one('worker.deregister')).toMatchObject({ target: 'aw1', actor: { kind: 'worker' }, outcome: 'ok', status: 204 });
      expect(one('dlq.replay')).toMatchObject({ target: letter, actor: { kind: 'admin', id: dlqKey.record.id }, outcome: 'failed', status: 502 });
      expect(one('dlq.delete')).toMatchObject({ target: letter, actor: { kind: 'admin', id: dlqKey.record.id }, outcome: 'ok', status: 204 });
      expect(from(one('dlq.delete'))).toMatch(/127\.0\.0\.1|::1/);
      expect(one('dlq.access')).toMatchObject({ actor: { kind: 'admin', id: servicesKey.record.id }, outcome: 'refused', status: 403 });
      expect(one('functions.access')).toMatchObject({ actor: { kind: 'user', id: 'alice' }, outcome: 'refused', status: 403 });
      expect(one('services.access')).toMatchObject({ actor: { kind: 'anonymous', id: `key:${unknownKey.record.id}` }, outcome: 'refused', status: 401 });
      expect(one('invocations.access')).toMatchObject({ actor: { kind: 'anonymous' }, outcome: 'refused', status: 401 });
      expect(one('invocations.access')?.actor.id).toBeUndefined();
      expect(one('workers.access')).toMatchObject({ actor: { kind: 'anonymous' }, outcome: 'refused', status: 401 });
      expect(one('auth.refused')).toMatchObject({ target: 'websocket', actor: { kind: 'anonymous' }, outcome: 'refused', status: CloseCode.AUTH_FAILED });
      const text = JSON.stringify(entries);
      for (const secret of [ADMIN, WORKER, dlqKey.key, servicesKey.key, unknownKey.key, 'wrong-token-wrong-token', 'not.a.jwt', SECRET, 'secret-body']) expect(text).not.toContain(secret);
      await d.close();
      d = await start();
      url = d.urls['solo']!;
      expect((await read()).map((e) => e.id)).toEqual(expect.arrayContaining(entries.map((e) => e.id)));
      await d.close();
    } finally {
      ring.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
