/**
 * The audit trail: both stores answer the same queries (newest first, paging, action filters);
 * refusals are folded per action and address per minute; and through a real production node,
 * GET /v1/audit shows who registered a worker, replayed or deleted a dead letter and who was
 * refused, to the admin token only, with no credential or body in any entry, and survives a
 * restart over the same data dir.
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
import { SECRET, hsToken, oneRegion } from '../node/fixtures.js';

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

describe('audit through a production node', () => {
  it('records workers, DLQ actions and refusals for the admin token only, and keeps them across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mrd-audit-'));
    const ADMIN = 'audit-admin-token-00000000';
    const WORKER = 'audit-worker-token-0000000';
    const start = () => startEmbeddedDeployment(oneRegion(), { dataDir: dir, region: { node: { auth: { hs256Secret: SECRET }, adminToken: ADMIN }, modules: servicesModules(WORKER, { egress: { allowLoopback: true } }) } });
    try {
      let d = await start();
      let url = d.urls['solo']!;
      const reg = await fetch(`${url}/v1/workers`, { method: 'POST', headers: { authorization: `Bearer ${WORKER}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'aw1', services: [{ name: 'echo', url: 'http://127.0.0.1:9/' }] }) });
      expect(reg.status).toBe(201);
      expect((await fetch(`${url}/v1/dlq`)).status).toBe(401);
      expect((await fetch(`${url}/v1/workers`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
      expect((await fetch(`${url}/v1/dlq/nope`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
      // Only the admin token reads it.
      expect((await fetch(`${url}/v1/audit`)).status).toBe(401);
      expect((await fetch(`${url}/v1/audit`, { headers: { authorization: `Bearer ${await hsToken({ sub: 'alice' })}` } })).status).toBe(403);
      const read = async (): Promise<AuditEntry[]> => ((await (await fetch(`${url}/v1/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { entries: AuditEntry[] }).entries;
      const entries = await read();
      const actions = entries.map((e) => `${e.action}:${e.outcome}`);
      expect(actions).toContain('worker.register:ok');
      expect(actions).toContain('dlq.access:refused');
      expect(actions).toContain('workers.access:refused');
      expect(entries.find((e) => e.action === 'worker.register')).toMatchObject({ target: 'aw1', actor: { kind: 'worker' }, region: 'solo' });
      const text = JSON.stringify(entries);
      for (const secret of [ADMIN, WORKER, 'wrong-token-wrong-token', SECRET]) expect(text).not.toContain(secret);
      await d.close();
      d = await start();
      url = d.urls['solo']!;
      expect((await read()).map((e) => e.id)).toEqual(expect.arrayContaining(entries.map((e) => e.id)));
      await d.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
