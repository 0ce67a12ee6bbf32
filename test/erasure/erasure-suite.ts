/**
 * Erasure end to end (issue 12, deliver 4), one suite for both buses: real region nodes, real
 * storage. After `POST /v1/erasures {user}`, a scan of every region's storage itself (SQLite
 * files, or every JetStream stream of every region's server, plus the DLQ files) finds none of
 * the user's payload markers — at the conversations' homes and at their replicas — while other
 * users' messages remain; with one region down during the erasure, that region erases on return
 * before any read of its data succeeds, and the erasure then completes; the receipt verifies
 * against the published keys and a tampered one does not; credentials are checked (401/403);
 * an unknown user gives zero counts and a repeated erasure is idempotent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReceipt } from '../../src/erasure/mod.js';
import type { ErasureStatus, Jwks } from '../../src/erasure/mod.js';
import { KeyRing, createKey } from '../../src/keys/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { servicesModules } from '../../src/runtime/services.js';
import type { ServicesModule } from '../../src/services/mod.js';
import { withoutQuickFailover } from '../e2e/deployments.js';
import type { DeploymentFactory, E2eDeployment, Region } from '../e2e/deployments.js';
import { REGIONS } from '../e2e/deployments.js';
import { waitFor } from '../e2e/helpers.js';
import { find, scanFiles, scanStreams } from './storage-scan.js';
import type { Snapshot } from './storage-scan.js';

const tag = Math.random().toString(36).slice(2, 8);
const uid = (p: string): string => `${p}${tag}${Math.random().toString(36).slice(2, 6)}`;

interface Reply {
  status: number;
  json: Record<string, unknown>;
}

async function http(url: string, path: string, o: { method?: string; key?: string; body?: unknown; raw?: string } = {}): Promise<Reply> {
  const res = await fetch(`${url}${path}`, {
    method: o.method ?? (o.body === undefined && o.raw === undefined ? 'GET' : 'POST'),
    headers: { ...(o.key === undefined ? {} : { authorization: `Bearer ${o.key}` }), 'content-type': 'application/json' },
    ...(o.raw !== undefined ? { body: o.raw } : o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

export function erasureSuite(name: string, factory: DeploymentFactory): void {
  describe(`erasure across every region and replica: ${name}`, () => {
    let d: E2eDeployment;
    let dataDir: string;
    let ring: KeyRing;
    let eraseKey: string;
    let sendKey: string;
    const services = new Map<string, ServicesModule>();
    const placement = new ConversationPlacement(withoutQuickFailover());
    const url = (r: Region): string => d.inner.urls[r]!;

    /** Every region's storage, read directly. */
    async function scan(): Promise<Snapshot> {
      const files = scanFiles(d.inner.dataDir);
      if (d.natsUrls === undefined) return files;
      const streams = await scanStreams(d.natsUrls);
      for (const r of REGIONS) streams[r].push(...files[r]);
      return streams;
    }

    const homedIn = (region: Region, make: () => string): string => {
      for (;;) {
        const c = make();
        if (placement.homeOf(c) === region) return c;
      }
    };

    async function send(from: string, to: { user: string } | { room: string }, body: string): Promise<void> {
      const r = await http(url('us-east'), '/v1/messages', { body: { from, to, body: { text: body }, clientMsgId: uid('m') } });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    }

    async function erase(region: Region, subject: Record<string, string>): Promise<string> {
      const r = await http(url(region), '/v1/erasures', { key: eraseKey, body: subject });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
      return r.json['id'] as string;
    }

    async function completed(region: Region, id: string, timeoutMs = 30_000): Promise<ErasureStatus> {
      let last: Reply | undefined;
      await waitFor(async () => (last = await http(url(region), `/v1/erasures/${id}`, { key: eraseKey })).json['complete'] === true, () => `erasure ${id} complete: ${JSON.stringify(last?.json)}`, timeoutMs, 200);
      return last!.json as unknown as ErasureStatus;
    }

    const logCount = (s: ErasureStatus): number => s.regions.reduce((n, r) => n + (r.state === 'done' ? r.counts.log : 0), 0);

    // The users: `victim` has sent into conversations homed in every region (copies at each
    // replica) and a room; `away` into one homed in the region that is down during its erasure.
    const victim = uid('vic');
    const away = uid('away');
    const peers = new Map<Region, string>();
    const room = uid('room');
    const DOWN: Region = 'eu-west';
    let awayConversation = '';
    let awayPeer = '';
    const mark = (user: string, i: number | string): string => `MRK${user}Z${i}`;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'meridian-erasure-'));
      const keysFile = join(dataDir, 'keys.json');
      eraseKey = (await createKey(keysFile, { scopes: ['erase'] })).key;
      sendKey = (await createKey(keysFile, { scopes: ['send', 'admin', 'dlq'] })).key;
      ring = await KeyRing.open(keysFile);
      const token = 'erasure-suite-worker-token-0123456789';
      d = await factory(withoutQuickFailover(), {
        dataDir: join(dataDir, 'data'),
        region: {
          erasure: { intervalMs: 1000 },
          node: { keys: ring },
          modules: async (p) => {
            const ms = await servicesModules(token)(p);
            services.set(p.region, ms[0] as ServicesModule);
            return ms;
          },
        },
      });
      for (const r of REGIONS) peers.set(r, homedIn(r, () => dmConversation(victim, uid('peer'))).split(':').find((p) => p !== 'dm' && p !== victim)!);
      let i = 0;
      for (const [, peer] of peers) {
        await send(victim, { user: peer }, mark(victim, i++));
        await send(peer, { user: victim }, mark(peer, 'keep'));
      }
      await send(victim, { room }, mark(victim, i++));
      await send(peers.get('us-east')!, { room }, mark(peers.get('us-east')!, 'room'));
      awayConversation = homedIn(DOWN, () => dmConversation(away, uid('ap')));
      awayPeer = awayConversation.split(':').find((p) => p !== 'dm' && p !== away)!;
      await send(away, { user: awayPeer }, mark(away, 0));
      await send(awayPeer, { user: away }, mark(awayPeer, 'keep'));
      // Something of the victim beside the log: a dead letter and an invocation record, in us-east.
      const mod = services.get('us-east')!;
      await mod.dlq.put({
        id: uid('letter'),
        function: 'resize',
        event: { attrs: { specversion: '1.0', id: 'e1', source: 'test', type: 't', subject: victim }, dataBase64: Buffer.from(mark(victim, 'dlq')).toString('base64') },
        region: 'us-east',
        acceptedAt: Date.now(),
        deadAt: Date.now(),
        lastError: { code: 'X', message: 'failed' },
        attempts: [],
      });
      mod.functions.invocations.add({ id: uid('inv_'), function: 'resize', eventId: 'e1', users: [victim], status: 'failed', acceptedAt: Date.now(), attempts: [] });
      // Every entry at its home and its replica before anything is erased (the scan sees them).
      await waitFor(
        async () => {
          const s = await scan();
          return [0, 1, 2, 3].every((n) => Object.values(find(s, mark(victim, n))).filter((w) => w.length > 0).length >= 2) && Object.values(find(s, mark(away, 0))).filter((w) => w.length > 0).length >= 2;
        },
        'every message at its home and its replica',
        30_000,
        300,
      );
    }, 120_000);

    afterAll(async () => {
      await d?.close();
      ring?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }, 60_000);

    it('erasure needs a key with the erase scope: none or a bad one is 401, another key 403', async () => {
      expect((await http(url('us-east'), '/v1/erasures', { body: { user: victim } })).status).toBe(401);
      expect((await http(url('us-east'), '/v1/erasures', { key: 'mrd_0123456789abcdef_bad', body: { user: victim } })).status).toBe(401);
      const forbidden = await http(url('us-east'), '/v1/erasures', { key: sendKey, body: { user: victim } });
      expect([forbidden.status, (forbidden.json['error'] as { code: string }).code]).toEqual([403, 'FORBIDDEN']);
      expect((await http(url('us-east'), '/v1/erasures/er_0123456789abcdefghij', { key: sendKey })).status).toBe(403);
    });

    it('bad bodies get typed 400s', async () => {
      for (const [raw, code] of [
        ['not json', 'BAD_FRAME'],
        ['[]', 'BAD_FRAME'],
        ['{}', 'INVALID_FIELD'],
        [JSON.stringify({ user: 'a', conversation: 'room:x' }), 'INVALID_FIELD'],
        [JSON.stringify({ user: '' }), 'INVALID_FIELD'],
        [JSON.stringify({ conversation: 'nope' }), 'INVALID_FIELD'],
        [JSON.stringify({ user: 'a', extra: 1 }), 'INVALID_FIELD'],
      ] as const) {
        const r = await http(url('ap-southeast'), '/v1/erasures', { key: eraseKey, raw });
        expect([raw, r.status, (r.json['error'] as { code: string }).code]).toEqual([raw, 400, code]);
      }
      expect((await http(url('ap-southeast'), '/v1/erasures/er_0123456789abcdefghij', { key: eraseKey })).status).toBe(404);
    });

    it("erases the user's messages at every home and replica, their DLQ and invocation records; others' remain; the receipt verifies", async () => {
      const id = await erase('ap-southeast', { user: victim });
      const status = await completed('us-east', id);
      expect(status.regions.map((r) => [r.region, r.state])).toEqual(REGIONS.map((r) => [r, 'done']));
      // Four entries, each at its home and at its replica.
      expect(logCount(status)).toBe(8);
      const us = status.regions.find((r) => r.region === 'us-east');
      expect(us?.state === 'done' ? [us.counts.dlq, us.counts.invocations] : []).toEqual([1, 1]);
      const s = await scan();
      for (const n of [0, 1, 2, 3, 'dlq']) expect(find(s, mark(victim, n)), `marker ${n}`).toEqual({ 'us-east': [], 'eu-west': [], 'ap-southeast': [] });
      for (const [, peer] of peers) expect(Object.values(find(s, mark(peer, 'keep'))).flat().length, `${peer}'s message`).toBeGreaterThan(0);
      expect(Object.values(find(s, mark(away, 0))).flat().length).toBeGreaterThan(0);
      // The coordinator's audit trail has the request and its own confirmation, never a body.
      const audit = await http(url('ap-southeast'), '/v1/audit?action=erasure.', { key: sendKey });
      const entries = audit.json['entries'] as { action: string; target?: string; outcome: string }[];
      expect(entries.filter((e) => e.target?.startsWith(id)).map((e) => `${e.action} ${e.outcome}`).sort()).toEqual(['erasure.done ok', 'erasure.request ok']);
      expect(JSON.stringify(audit.json)).not.toContain('MRK');
      // History answers without the victim's messages, with the peers'.
      const conv = dmConversation(victim, peers.get('ap-southeast')!);
      const h = await http(url('us-east'), `/v1/conversations/${encodeURIComponent(conv)}/messages`);
      expect(JSON.stringify(h.json)).not.toContain(mark(victim, 2));
      expect(JSON.stringify(h.json)).toContain(mark(peers.get('ap-southeast')!, 'keep'));
      // The receipt: signed by the regions' keys, served as a JWKS by any node.
      const jwks = (await http(url('eu-west'), '/v1/erasures/keys')).json as unknown as Jwks;
      const payload = await verifyReceipt(status.receipt!, jwks, { regions: REGIONS });
      expect(payload.id).toBe(id);
      expect(payload.subject).toEqual({ user: victim });
      expect(payload.regions.map((r) => r.region)).toEqual([...REGIONS]);
      // Tampered: counts lowered in the receipt, or a region's confirmation swapped for another's.
      const [h64, p64, sig] = status.receipt!.split('.');
      const body = JSON.parse(Buffer.from(p64!, 'base64url').toString()) as { regions: { counts: { log: number }; confirmation: string }[] };
      const lowered = structuredClone(body);
      lowered.regions[0]!.counts.log += 1;
      await expect(verifyReceipt(`${h64}.${Buffer.from(JSON.stringify(lowered)).toString('base64url')}.${sig}`, jwks)).rejects.toThrow(/does not verify/);
      await expect(verifyReceipt(`${h64}.${p64}.${sig!.slice(0, -4)}AAAA`, jwks)).rejects.toThrow(/does not verify/);
      await expect(verifyReceipt(status.receipt!, { keys: [] })).rejects.toThrow(/no key/);
    });

    it('an unknown user gives a receipt with zero counts; a repeated erasure is idempotent', async () => {
      const unknown = await completed('eu-west', await erase('eu-west', { user: uid('nobody') }));
      expect(unknown.regions.every((r) => r.state === 'done' && Object.values(r.counts).every((n) => n === 0))).toBe(true);
      expect(unknown.receipt).toBeDefined();
      const again = await completed('us-east', await erase('us-east', { user: victim }));
      expect(logCount(again)).toBe(0);
      expect(again.complete).toBe(true);
    });

    it('a region down during the erasure erases on its return before any read of its data succeeds, then the erasure completes', async () => {
      const history = (): Promise<Reply> => http(url(DOWN), `/v1/conversations/${encodeURIComponent(awayConversation)}/messages`);
      expect(JSON.stringify((await history()).json)).toContain(mark(away, 0));
      await d.killBus(DOWN);
      let id = '';
      try {
        id = await erase('us-east', { user: away });
        let st: Reply | undefined;
        await waitFor(
          async () => {
            st = await http(url('ap-southeast'), `/v1/erasures/${id}`, { key: eraseKey });
            return (st.json['regions'] as { state: string }[]).filter((r) => r.state === 'done').length === 2;
          },
          () => `the survivors confirm: ${JSON.stringify(st?.json)}`,
          30_000,
          200,
        );
        expect(st!.json['complete']).toBe(false);
        expect((st!.json['regions'] as { region: string; state: string }[]).find((r) => r.region === DOWN)?.state).toBe('pending');
      } finally {
        await d.reviveBus(DOWN);
      }
      // From the moment it is back, every read of its log that succeeds is already clean.
      const reads: number[] = [];
      await waitFor(
        async () => {
          const r = await history();
          reads.push(r.status);
          if (r.status === 200) {
            expect(JSON.stringify(r.json)).not.toContain(mark(away, 0));
            expect(JSON.stringify(r.json)).toContain(mark(awayPeer, 'keep'));
          }
          return r.status === 200;
        },
        () => `a read in ${DOWN} succeeds: ${reads.join(',')}`,
        60_000,
        20,
      );
      const done = await completed('us-east', id, 60_000);
      expect(done.regions.find((r) => r.region === DOWN)?.state).toBe('done');
      // At the home (the region that was down) and at its replica.
      expect(logCount(done)).toBe(2);
      expect(find(await scan(), mark(away, 0))).toEqual({ 'us-east': [], 'eu-west': [], 'ap-southeast': [] });
      const jwks = (await http(url(DOWN), '/v1/erasures/keys')).json as unknown as Jwks;
      await verifyReceipt(done.receipt!, jwks, { regions: REGIONS });
    }, 120_000);
  });
}
