/**
 * The edge's audit trail (src/edge/server/audit.ts): region down, up and drain recorded with the
 * API key id that asked (never the key), every refused admin request recorded with whom it
 * refused, `GET /v1/audit` served like a node's (admin scope, newest first, pages, filters), the
 * SQLite file in the data dir still holding it after the edge restarts, and `meridian edge --data`
 * keeping it after the process exits. The region URLs point at a closed port: no node is needed
 * for admin hooks and the audit trail, and a drain the edge forwards fails at once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditLog } from '../../src/audit/mod.js';
import { edgeAuditFile, openEdgeAuditLog, startEdge } from '../../src/edge/server/mod.js';
import type { Edge, EdgeOptions } from '../../src/edge/server/mod.js';
import { createKey, KeyRing } from '../../src/keys/mod.js';
import type { CreatedKey } from '../../src/keys/mod.js';
import { eventually } from '../node/client.js';
import { threeRegions } from '../node/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mrd-edge-audit-'));
const file = join(dir, 'keys.json');
const DEAD = 'http://127.0.0.1:1';
const UNKNOWN_KEY = `mrd_0123456789abcdef_${'A'.repeat(43)}`;
const topology = threeRegions();
let ring: KeyRing;
let admin: CreatedKey;
let sender: CreatedKey;
let audit: AuditLog;
let edge: Edge;
const hooked: string[] = [];

function options(extra: Partial<EdgeOptions> = {}): EdgeOptions {
  return {
    topology,
    regionUrls: { 'us-east': DEAD, 'eu-west': DEAD, 'ap-southeast': DEAD },
    port: 0,
    geoip: null,
    keys: ring,
    onRegionDown: (r) => void hooked.push(`down ${r}`),
    onRegionUp: (r) => void hooked.push(`up ${r}`),
    ...extra,
  };
}

async function startAll(): Promise<void> {
  audit = openEdgeAuditLog(dir);
  edge = await startEdge(options({ audit }));
}

const post = async (path: string, headers: Record<string, string> = {}): Promise<number> => (await fetch(`${edge.url}${path}`, { method: 'POST', headers })).status;
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

async function read(query = '', headers: Record<string, string> = bearer(admin.key)): Promise<{ status: number; body: { entries: AuditEntry[]; next?: string; error?: { code: string } } }> {
  const res = await fetch(`${edge.url}/v1/audit${query}`, { headers });
  return { status: res.status, body: (await res.json()) as { entries: AuditEntry[]; next?: string; error?: { code: string } } };
}

beforeAll(async () => {
  admin = await createKey(file, { scopes: ['admin'], note: 'operator' });
  sender = await createKey(file, { scopes: ['send'] });
  ring = await KeyRing.open(file);
  await startAll();
}, 30_000);

afterAll(async () => {
  await edge?.close();
  await audit?.close();
  ring?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the edge audit trail', () => {
  it('records region down and up by the key that asked, with the client address, never the key', async () => {
    expect(await post('/v1/admin/regions/eu-west/down', bearer(admin.key))).toBe(202);
    expect(await post('/v1/admin/regions/eu-west/up', bearer(admin.key))).toBe(202);
    expect(hooked).toEqual(['down eu-west', 'up eu-west']);
    const { status, body } = await read('?action=region.');
    expect(status).toBe(200);
    expect(body.entries.map((e) => [e.action, e.outcome, e.status, e.target])).toEqual([
      ['region.up', 'ok', 202, 'eu-west'],
      ['region.down', 'ok', 202, 'eu-west'],
    ]);
    for (const e of body.entries) {
      expect(e.actor).toEqual({ kind: 'admin', id: admin.record.id });
      expect(e.region).toBe('edge');
      expect(e.from).toMatch(/127\.0\.0\.1$/);
    }
  });

  it('records refused admin requests and whom it refused: none, an unknown key by id, a key without the admin scope, a cross-site call', async () => {
    expect(await post('/v1/admin/regions/us-east/down')).toBe(401);
    expect(await post('/v1/admin/regions/us-east/up', bearer(UNKNOWN_KEY))).toBe(401);
    expect(await post('/v1/admin/regions/us-east/drain', bearer(sender.key))).toBe(403);
    expect((await read('', { ...bearer(admin.key), origin: 'https://evil.example' })).status).toBe(403);
    expect(hooked).toHaveLength(2);
    const refused = (await read()).body.entries.filter((e) => e.outcome === 'refused');
    expect(refused.map((e) => [e.action, e.status, e.actor])).toEqual([
      ['audit.read', 403, { kind: 'admin', id: admin.record.id }],
      ['region.drain', 403, { kind: 'admin', id: sender.record.id }],
      ['region.up', 401, { kind: 'anonymous', id: 'key:0123456789abcdef' }],
      ['region.down', 401, { kind: 'anonymous' }],
    ]);
    expect(refused.every((e) => e.target === undefined || e.target === 'us-east')).toBe(true);
  });

  it('records a drain it accepted, and that it failed when the region could not be drained', async () => {
    expect(await post('/v1/admin/regions/ap-southeast/drain', bearer(admin.key))).toBe(202);
    let drains: AuditEntry[] = [];
    await eventually(async () => {
      drains = (await read('?action=region.drain')).body.entries.filter((e) => e.outcome !== 'refused');
      return drains.length === 2;
    }, 'the failed drain to be recorded');
    expect(drains.map((e) => [e.outcome, e.status, e.target, e.actor.id])).toEqual([
      ['failed', undefined, 'ap-southeast', admin.record.id],
      ['ok', 202, 'ap-southeast', admin.record.id],
    ]);
  });

  it('serves GET /v1/audit as a node does: the admin scope only, newest first, limit and before pages, action filters', async () => {
    expect((await read('', {})).status).toBe(401);
    expect((await read('', bearer(UNKNOWN_KEY))).status).toBe(401);
    const forbidden = await read('', bearer(sender.key));
    expect([forbidden.status, forbidden.body.error?.code]).toEqual([403, 'EDGE_FORBIDDEN']);
    expect((await fetch(`${edge.url}/v1/audit`, { method: 'DELETE', headers: bearer(admin.key) })).status).toBe(405);
    const bad = await read('?limit=0');
    expect([bad.status, bad.body.error?.code]).toEqual([400, 'INVALID_ARGUMENT']);

    const all = (await read('?limit=1000')).body.entries;
    expect(all.length).toBeGreaterThanOrEqual(8);
    expect(all.map((e) => e.id)).toEqual(all.map((e) => e.id).sort().reverse());
    const first = await read('?limit=3');
    expect(first.body.entries).toEqual(all.slice(0, 3));
    expect(first.body.next).toBe(`/v1/audit?before=${all[2]!.id}`);
    expect((await read(first.body.next!.slice('/v1/audit'.length) + '&limit=3')).body.entries).toEqual(all.slice(3, 6));
    // A filtered page's next link keeps the filter.
    const regionPage = await read('?action=region.&limit=2');
    expect(regionPage.body.entries.every((e) => e.action.startsWith('region.'))).toBe(true);
    expect(regionPage.body.next).toBe(`/v1/audit?before=${regionPage.body.entries[1]!.id}&action=region.`);
    expect((await read('?action=region.up')).body.entries.every((e) => e.action === 'region.up')).toBe(true);
  });

  it('holds no credential: key ids only', async () => {
    const text = JSON.stringify((await read('?limit=1000')).body);
    for (const secret of [admin.key, sender.key, UNKNOWN_KEY]) expect(text).not.toContain(secret);
    expect(text).toContain(admin.record.id);
  });

  it('keeps the trail in the data dir across a restart; refusals within a minute fold into a count', async () => {
    // The second refusal of region.down from this address within the minute is folded: written
    // with its count when the minute ends, or at close.
    expect(await post('/v1/admin/regions/us-east/down')).toBe(401);
    expect(await post('/v1/admin/regions/us-east/down')).toBe(401);
    const before = (await read('?limit=1000')).body.entries;
    await edge.close();
    await audit.close();
    expect(existsSync(edgeAuditFile(dir))).toBe(true);
    await startAll();
    const after = (await read('?limit=1000')).body.entries;
    const folded = after.filter((e) => e.count !== undefined && e.action === 'region.down');
    expect(folded.map((e) => [e.outcome, e.status, e.count])).toEqual([['refused', 401, 2]]);
    expect(after.filter((e) => e.count === undefined)).toEqual(before);
  });

  it('is 404 while admin is off, and 501 when the edge keeps no trail', async () => {
    const off = await startEdge(options({ keys: undefined, onRegionDown: undefined, onRegionUp: undefined }));
    const none = await startEdge(options());
    try {
      expect((await fetch(`${off.url}/v1/audit`)).status).toBe(404);
      const res = await fetch(`${none.url}/v1/audit`, { headers: bearer(admin.key) });
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([501, 'NOT_AVAILABLE']);
    } finally {
      await off.close();
      await none.close();
    }
  });
});

describe('meridian edge --data DIR', () => {
  it('keeps its audit trail in DIR/_edge/audit.db after it exits', async () => {
    const data = join(dir, 'edge-data');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'edge', '--regions', `us-east=${DEAD}`, '--keys', file, '--data', data, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await eventually(() => out.includes('audit trail') || child.exitCode !== null, 'the edge to listen', 20_000);
      expect(out).toContain(`audit trail     ${edgeAuditFile(data)}`);
      const url = /listening on (http:\S+)/.exec(out)![1]!;
      // No hook in a standalone edge: the down is recorded as failed (501).
      expect((await fetch(`${url}/v1/admin/regions/us-east/down`, { method: 'POST', headers: bearer(admin.key) })).status).toBe(501);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const kept = openEdgeAuditLog(data);
    try {
      expect((await kept.query({ action: 'region.down' })).map((e) => [e.outcome, e.status, e.actor])).toEqual([['failed', 501, { kind: 'admin', id: admin.record.id }]]);
    } finally {
      await kept.close();
    }
  }, 30_000);
});
