/**
 * Retention per conversation pattern, end to end on both buses (issue 12, deliver 3): the
 * topology's `retention` rule reaches every region's log, so a room matched by a count rule is
 * trimmed on its home AND on its replica (each region's log read directly), history reports the
 * first available seq from any region, and a client resuming from before it gets
 * `recovered: false`. An age rule expires a room on both alike. A replica that was cut off while
 * its home trimmed catches up past the seqs that are gone instead of waiting for them. A
 * residency rule's own retention limit applies to its rooms, the stricter one winning.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { roomConversation } from '../../src/protocol/mod.js';
import { describeWithNats } from '../bus/nats-env.js';
import { TestClient } from '../node/client.js';
import { REGIONS, embeddedFactory, natsFactory, withoutQuickFailover } from './deployments.js';
import type { DeploymentFactory, E2eDeployment, Region } from './deployments.js';
import { waitFor } from './helpers.js';

const KEEP = 5;
/** About 4.3 s: long enough for the sends, short enough to wait for. */
const BRIEF_DAYS = 0.00005;

function retentionSuite(name: string, factory: DeploymentFactory): void {
  describe(`retention per conversation pattern: ${name}`, () => {
    let d: E2eDeployment;
    let placement: ConversationPlacement;
    beforeAll(async () => {
      const t = withoutQuickFailover();
      // A residency rule may limit retention too: for its rooms the stricter of it and the retention rule applies.
      const pacific = { name: 'pacific', countries: [], users: [], userJurisdictions: [], rooms: ['pac-*'], jurisdictions: ['US', 'SG'], strict: true, mode: 'store' as const, retention: { maxCount: 3 } };
      d = await factory({
        ...t,
        residency: [...t.residency, pacific],
        retention: { conversations: [{ match: 'room:short-*', maxCount: KEEP }, { match: 'room:brief-*', maxAgeDays: BRIEF_DAYS }, { match: 'room:pac-*', maxCount: KEEP }] },
      });
      placement = new ConversationPlacement(d.inner.topology);
    }, 120_000);
    afterAll(async () => {
      await d?.close();
    }, 60_000);

    /** A room named `prefix…` whose home is `home`, with its replica. */
    const roomIn = (prefix: string, home: Region): { room: string; conversation: string; replica: Region } => {
      for (let i = 0; ; i++) {
        const room = `${prefix}${i}-${Math.random().toString(36).slice(2, 6)}`;
        const conversation = roomConversation(room);
        if (placement.homeOf(conversation) === home) return { room, conversation, replica: placement.replicasOf(conversation)[0] as Region };
      }
    };
    const seqsIn = async (region: Region, conversation: string): Promise<number[]> => (await d.inner.region(region).log.read(conversation, { limit: 1000 })).map((e) => e.seq);

    it('a room matched by a count rule is trimmed on its home and its replica; history and resume report the first available seq', async () => {
      const home = REGIONS[0];
      const { room, conversation, replica } = roomIn('short-', home);
      const other = REGIONS.find((r) => r !== home && r !== replica) as Region;
      const { conversation: kept } = roomIn('long-', home);
      // Sent at the home (one replica round trip each, no forwarding: the test is about retention).
      const atHome = d.inner.region(home).messaging;
      for (let i = 1; i <= 12; i++) {
        await atHome.send({ from: 'alice', to: { room }, body: i, clientMsgId: `s${i}`, durability: 'replicated' });
        await atHome.send({ from: 'alice', to: { room: kept.slice('room:'.length) }, body: i, clientMsgId: `k${i}`, durability: 'replicated' });
      }
      const sender = d.inner.region(other).messaging;
      const expected = [8, 9, 10, 11, 12];
      for (const region of [home, replica]) {
        const log = d.inner.region(region).log;
        expect(await seqsIn(region, conversation), `${region} log`).toEqual(expected);
        expect(await log.firstAvailable(conversation), `${region} firstAvailable`).toBe(8);
        expect(await log.last(conversation), `${region} last`).toBe(12);
        // A room no rule matches keeps everything, on both.
        expect((await seqsIn(region, kept)).length, `${region} unmatched room`).toBe(12);
      }
      // History from a region that holds no copy, forwarded to the home.
      const page = await sender.history(conversation, { after: 0, limit: 100 });
      expect(page.messages.map((m) => m.seq)).toEqual(expected);
      expect({ firstAvailable: page.firstAvailable, lastSeq: page.lastSeq }).toEqual({ firstAvailable: 8, lastSeq: 12 });
      // A client resuming from before the first available seq learns that history is gone.
      const bob = await TestClient.dev(d.wsUrl(other), 'bob');
      try {
        expect(await bob.request({ type: 'resume', id: 'r', positions: { [conversation]: 2 } })).toMatchObject({ recovered: false, reason: 'history_gone', fromSeq: 8, lastSeq: 12 });
        expect(await bob.request({ type: 'resume', id: 'r2', positions: { [conversation]: 9 } })).toMatchObject({ recovered: true, fromSeq: 10, lastSeq: 12 });
      } finally {
        await bob.close();
      }
    }, 60_000);

    it("a residency rule's retention applies on the home and replica it allows, the stricter of it and the retention rule", async () => {
      const home: Region = 'us-east';
      const { room, conversation, replica } = roomIn('pac-', home);
      expect(replica).toBe('ap-southeast');
      const atHome = d.inner.region(home).messaging;
      for (let i = 1; i <= 8; i++) await atHome.send({ from: 'alice', to: { room }, body: i, clientMsgId: `p${i}`, durability: 'replicated' });
      for (const region of [home, replica]) expect(await seqsIn(region, conversation), `${region} log`).toEqual([6, 7, 8]);
      expect(await seqsIn('eu-west', conversation)).toEqual([]);
    }, 60_000);

    it('an age rule expires a room on its home and its replica alike; the sequence goes on', async () => {
      const home = REGIONS[2];
      const { room, conversation, replica } = roomIn('brief-', home);
      const messaging = d.inner.region(home).messaging;
      for (let i = 1; i <= 3; i++) await messaging.send({ from: 'dave', to: { room }, body: i, clientMsgId: `b${i}`, durability: 'replicated' });
      // No read before expiry is asserted: on a slow machine it could already be too late.
      await waitFor(async () => (await seqsIn(home, conversation)).length === 0 && (await seqsIn(replica, conversation)).length === 0, 'the room to expire on its home and its replica', 20_000, 100);
      for (const region of [home, replica]) {
        expect(await d.inner.region(region).log.firstAvailable(conversation), `${region} firstAvailable`).toBe(4);
        expect(await d.inner.region(region).log.last(conversation), `${region} last`).toBe(3);
      }
      expect(await d.inner.region(replica).messaging.history(conversation)).toMatchObject({ messages: [], firstAvailable: 4, lastSeq: 3 });
      expect((await messaging.send({ from: 'dave', to: { room }, body: 4, clientMsgId: 'b4', durability: 'replicated' })).seq).toBe(4);
      expect(await seqsIn(replica, conversation)).toEqual([4]);
    }, 60_000);

    it('a replica cut off while its home trimmed catches up past the seqs that are gone', async () => {
      const home = REGIONS[1];
      const { room, conversation, replica } = roomIn('short-', home);
      const homeMessaging = d.inner.region(home).messaging;
      await homeMessaging.send({ from: 'carol', to: { room }, body: 0, clientMsgId: 'c0', durability: 'replicated' });
      expect(await seqsIn(replica, conversation)).toEqual([1]);
      await d.killBus(replica);
      try {
        // `local` sends are acked by the home alone; its log keeps the newest 5 of 10.
        for (let i = 1; i <= 9; i++) await homeMessaging.send({ from: 'carol', to: { room }, body: i, clientMsgId: `c${i}`, durability: 'local' });
        expect(await seqsIn(home, conversation)).toEqual([6, 7, 8, 9, 10]);
      } finally {
        await d.reviveBus(replica);
      }
      // The home's retried copy starts at seq 6: the replica skips 2-5, gone at the home.
      await waitFor(async () => (await d.inner.region(replica).log.last(conversation)) === 10, () => `the replica in ${replica} to catch up`, 30_000, 100);
      expect(await seqsIn(replica, conversation)).toEqual([6, 7, 8, 9, 10]);
      expect(await d.inner.region(replica).log.firstAvailable(conversation)).toBe(6);
    }, 60_000);
  });
}

retentionSuite('embedded bus', embeddedFactory);
describeWithNats('retention per conversation pattern on nats', () => {
  retentionSuite('NATS super-cluster', natsFactory);
});
