/**
 * Residency end to end (issue 12, deliver 1 and 2), one suite for both buses: real region nodes,
 * real storage, the built-in three regions (us-east US, eu-west EU, ap-southeast SG) with data
 * rules. Where bytes are is read from storage itself (SQLite files and KV buckets, or every
 * JetStream stream of every region's server), and what a region's node saw from its bus tap:
 * - claims that disagree with the rules are refused at auth (4754);
 * - `store`: an EU user's conversations (log, inbox index, cursors) are only in eu-west, even
 *   when sent through another region; a rule over US+SG keeps home and replica inside them;
 * - a covered user cannot write into a room stored elsewhere, nor open a conversation with a
 *   user whose rules share no region;
 * - `strict`: no node outside the rule serves the conversation or receives its frames;
 * - a drain migrates a strict user only inside their rule (else closes them);
 * - failover keeps to the rule: the lost region's EU conversations are unavailable (retryable),
 *   never moved out, and served again when it returns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvToken, token } from '../../src/bus/subjects.js';
import { dmConversation, roomConversation } from '../../src/protocol/mod.js';
import type { ServerFrame } from '../../src/protocol/mod.js';
import { tapBus } from '../../src/testing/mod.js';
import { DEFAULT_TOPOLOGY_YAML, parseTopology } from '../../src/topology/mod.js';
import type { DeploymentFactory, E2eDeployment, Region } from '../e2e/deployments.js';
import { sleep, waitFor } from '../e2e/helpers.js';
import { TestClient } from '../node/client.js';
import { scanStorage, where } from './scan.js';
import type { Snapshot } from './scan.js';

const RULES = `residency:
  - name: gdpr
    countries: [EU]
    users: ["eu-*"]
    userJurisdictions: [EU]
    rooms: ["eu-*"]
    jurisdictions: [EU]
  - name: eu-strict
    users: ["eus-*"]
    jurisdictions: [EU]
    mode: strict
  - name: pacific
    users: ["pac-*"]
    rooms: ["pac-*"]
    jurisdictions: [US, SG]
  - name: singapore
    users: ["sg-*"]
    userJurisdictions: [SG]
    jurisdictions: [SG]
replication:
  failoverAfterMs: 1500
`;

export function residencyTopology() {
  const yaml = DEFAULT_TOPOLOGY_YAML.replace(/residency:\n(?: {2}.*\n)+/, RULES);
  return parseTopology(yaml, '<residency suite>');
}

const tag = Math.random().toString(36).slice(2, 7);
const uid = (p: string): string => `${p}${tag}${Math.random().toString(36).slice(2, 6)}`;
const mark = (what: string): string => `MRK${tag}${what}Z`;

/** Every form an id takes in storage and on the bus: as is, as a subject token, as a KV key token. */
const forms = (id: string): string[] => [...new Set([id, token(id), kvToken(id)])];

type Frame = ServerFrame & { code?: number; name?: string; retryable?: boolean };

export function residencySuite(name: string, factory: DeploymentFactory): void {
  describe(`residency rules place and keep data: ${name}`, () => {
    let d: E2eDeployment;
    let dataDir: string;
    /** What each region's node published or received on its bus, as text. */
    const seen: Record<Region, string[]> = { 'us-east': [], 'eu-west': [], 'ap-southeast': [] };
    const clients: TestClient[] = [];

    const dev = async (region: Region, user: string, claims: { jurisdiction?: string; country?: string } = {}): Promise<TestClient> => {
      const c = await TestClient.open(d.wsUrl(region));
      clients.push(c);
      c.send({ type: 'auth', id: 'a', user, ...claims });
      await c.next('welcome');
      return c;
    };
    const send = (c: TestClient, to: { user: string } | { room: string }, text: string, timeoutMs = 15_000): Promise<Frame> =>
      c.request({ type: 'send', id: c.id(), to, body: { text }, clientMsgId: `${text}-cm` }, timeoutMs);
    const scan = (): Promise<Snapshot> => scanStorage(d);

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'meridian-residency-'));
      d = await factory(residencyTopology(), {
        dataDir: join(dataDir, 'data'),
        wrapBus: (region, bus) => tapBus(bus, (dir, subject, data) => seen[region as Region].push(`${dir} ${subject} ${Buffer.from(data).toString('latin1')}`)),
      });
    }, 120_000);

    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await d?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }, 60_000);

    it('claims that disagree with the rules close 4754 at auth; agreeing ones are welcome', async () => {
      for (const [user, claims] of [
        [uid('bob'), { jurisdiction: 'EU' }],
        [uid('bob'), { country: 'DE' }],
        [uid('eu-anna'), { jurisdiction: 'US' }],
        [uid('x'), { jurisdiction: 'XX' }],
      ] as const) {
        const c = await TestClient.open(d.wsUrl('eu-west'));
        c.send({ type: 'auth', id: 'a', user, ...claims });
        const closed = await c.closed;
        expect([user, claims, closed.code]).toEqual([user, claims, 4754]);
      }
      // dev() waits for `welcome`: claims that agree with the id's rule are accepted.
      await expect(dev('eu-west', uid('eu-anna'), { jurisdiction: 'EU', country: 'DE' })).resolves.toBeInstanceOf(TestClient);
    });

    it("store: an EU user's direct conversation is stored only in eu-west (log, inbox, cursors), even when sent through us-east", async () => {
      const anna = uid('eu-anna');
      const bob = uid('us-bob');
      const a = await dev('eu-west', anna);
      const b = await dev('us-east', bob);
      const conversation = dmConversation(anna, bob);
      expect(await send(b, { user: anna }, mark('dm1'))).toMatchObject({ type: 'ack', conversation });
      const [m] = await a.waitMessages(conversation, 1);
      expect(await send(a, { user: bob }, mark('dm2'))).toMatchObject({ type: 'ack', conversation });
      await b.waitMessages(conversation, 2);
      a.send({ type: 'delivery_ack', conversation, seq: m!.seq });
      await sleep(1500);
      const s = await scan();
      for (const marker of [mark('dm1'), mark('dm2')]) expect(where(s, [marker]), marker).toEqual(['eu-west']);
      expect(where(s, forms(conversation)), conversation).toEqual(['eu-west']);
    });

    it('a rule over US and SG keeps each home and its replica inside them, whichever region the sends pass through', async () => {
      const pairs = Array.from({ length: 6 }, (_, i) => [uid(`pac-p${i}`), uid(`pac-q${i}`)] as const);
      // Half sent by a covered user, half by one no rule covers (the conversation is still the covered peer's), all through eu-west.
      const via = await dev('eu-west', uid('relay'));
      for (const [i, [p, q]] of pairs.entries()) {
        const c = i % 2 === 0 ? via : await dev('eu-west', p);
        expect(await send(c, { user: q }, mark(`pac${i}`))).toMatchObject({ type: 'ack' });
      }
      let s: Snapshot | undefined;
      await waitFor(
        async () => {
          s = await scan();
          return pairs.every((_, i) => where(s!, [mark(`pac${i}`)]).length === 2);
        },
        () => `every pacific message at its home and replica: ${JSON.stringify(pairs.map((_, i) => where(s!, [mark(`pac${i}`)])))}`,
        20_000,
        300,
      );
      for (const [i] of pairs.entries()) expect(where(s!, [mark(`pac${i}`)])).toEqual(['us-east', 'ap-southeast']);
    });

    it('a covered user may not write into a room stored elsewhere, nor to a user whose rules share no region; a rule room stays in eu-west', async () => {
      const anna = await dev('eu-west', uid('eu-anna'));
      const bob = await dev('us-east', uid('us-bob'));
      const room = uid('eu-lobby');
      expect(await send(anna, { room }, mark('room1'))).toMatchObject({ type: 'ack' });
      expect(await send(bob, { room }, mark('room2'))).toMatchObject({ type: 'ack' });
      const elsewhere = await send(anna, { room: uid('global') }, mark('room3'));
      expect([elsewhere.type, elsewhere.name, elsewhere.code, elsewhere.retryable]).toEqual(['error', 'RESIDENCY_FORBIDDEN', 4014, false]);
      const conflict = await send(anna, { user: uid('sg-lee') }, mark('conflict'));
      expect([conflict.type, conflict.name]).toEqual(['error', 'RESIDENCY_FORBIDDEN']);
      await sleep(1000);
      const s = await scan();
      expect(where(s, [mark('room1')])).toEqual(['eu-west']);
      expect(where(s, [mark('room2')])).toEqual(['eu-west']);
      expect(where(s, forms(roomConversation(room)))).toEqual(['eu-west']);
      expect(where(s, [mark('room3')])).toEqual([]);
      expect(where(s, [mark('conflict')])).toEqual([]);
    });

    it('strict: a region outside the rule neither serves the conversation nor receives its frames on its bus', async () => {
      const carl = uid('eus-carl');
      const dave = uid('us-dave');
      const conversation = dmConversation(carl, dave);
      const c = await dev('eu-west', carl);
      const daveUs = await dev('us-east', dave);
      const daveEu = await dev('eu-west', dave);
      // carl, under the strict rule, connecting through us-east is told to move to eu-west at once.
      const carlUs = await dev('us-east', carl);
      expect(await carlUs.find('migrate')).toMatchObject({ reason: 'residency', suggestedRegion: 'eu-west', url: d.wsUrl('eu-west') });
      const refused = await send(daveUs, { user: carl }, mark('strict0'));
      expect([refused.type, refused.name]).toEqual(['error', 'RESIDENCY_FORBIDDEN']);
      const history = await fetch(`${d.inner.urls['us-east']!}/v1/conversations/${encodeURIComponent(conversation)}/messages`);
      expect(history.status).toBe(403);
      expect(await send(daveEu, { user: carl }, mark('strict1'))).toMatchObject({ type: 'ack', conversation });
      const [m] = await c.waitMessages(conversation, 1);
      expect(await send(c, { user: dave }, mark('strict2'))).toMatchObject({ type: 'ack', conversation });
      await daveEu.waitMessages(conversation, 2);
      c.send({ type: 'read', conversation, seq: m!.seq });
      await daveEu.find('receipt', (r) => r.conversation === conversation);
      await sleep(1000);
      // dave's session in us-east got nothing of it; the us-east and ap-southeast nodes never saw it on their bus.
      expect(daveUs.frames.filter((f) => 'conversation' in f && f.conversation === conversation)).toEqual([]);
      const needles = [mark('strict1'), mark('strict2'), ...forms(conversation)];
      expect(seen['eu-west'].some((t) => needles.some((n) => t.includes(n))), 'the tap works: eu-west saw the frames').toBe(true);
      for (const r of ['us-east', 'ap-southeast'] as const) expect(seen[r].filter((t) => needles.some((n) => t.includes(n))), r).toEqual([]);
      const s = await scan();
      expect(where(s, needles)).toEqual(['eu-west']);
    });

    it('a drain never sends a strict user out of their regions: with no other allowed region they are closed, others migrate', async () => {
      const carl = await dev('eu-west', uid('eus-carl'));
      const bob = await dev('eu-west', uid('us-bob'));
      const draining = d.inner.drainRegion('eu-west', { deadlineMs: 3000 });
      try {
        expect(await bob.find('migrate')).toMatchObject({ reason: 'drain' });
        expect((await carl.closed).code).toBe(4500);
        expect(carl.frames.filter((f) => f.type === 'migrate')).toEqual([]);
      } finally {
        await bob.close();
        await draining;
      }
    }, 60_000);

    it('failover keeps to the rule: with eu-west lost, its EU conversations are unavailable (retryable), never moved out; back when it returns', async () => {
      const anna = uid('eu-anna');
      const bob = uid('us-bob');
      const conversation = dmConversation(anna, bob);
      const b = await dev('us-east', bob);
      expect(await send(b, { user: anna }, mark('before'))).toMatchObject({ type: 'ack', conversation });
      await d.killBus('eu-west');
      try {
        // Well past failoverAfterMs: the survivors take over what they may, and nothing else.
        await sleep(5000);
        const during = await send(b, { user: anna }, mark('during'), 30_000);
        expect([during.type, during.retryable], JSON.stringify(during)).toEqual(['error', true]);
        const pac = await send(b, { user: uid('pac-x') }, mark('pac-during'), 30_000);
        expect(pac.type, JSON.stringify(pac)).toBe('ack');
        // Read the survivors' storage directly; on NATS their JetStream API may wait for a new meta leader first.
        let survivors: Snapshot | undefined;
        await waitFor(
          async () => (survivors = await scanStorage(d, ['us-east', 'ap-southeast']).catch(() => undefined)) !== undefined,
          "the survivors' storage can be read",
          30_000,
          500,
        );
        expect(where(survivors!, [mark('before'), mark('during'), ...forms(conversation)])).toEqual([]);
      } finally {
        await d.reviveBus('eu-west');
      }
      let again: Frame | undefined;
      await waitFor(async () => (again = await send(b, { user: anna }, mark('during'), 15_000)).type === 'ack', () => `the send is taken again once eu-west is back: ${JSON.stringify(again)}`, 60_000, 500);
      const s = await scan();
      expect(where(s, [mark('during')])).toEqual(['eu-west']);
    }, 120_000);
  });
}

