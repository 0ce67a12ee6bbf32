/**
 * The messaging conformance suite: one deployment of three regions (a bus, a log and a
 * `Messaging` per region), run on the embedded network and on a real NATS super-cluster.
 * Each test uses fresh user and room ids, so tests share one deployment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/mod.js';
import type { Delivery, Messaging, StoredMessage } from '../../src/messaging/mod.js';
import { dmConversation, roomConversation } from '../../src/protocol/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import type { MessageLog } from '../../src/log/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';

export interface Deployment {
  readonly regions: readonly string[];
  readonly topology: Topology;
  messaging(region: string): Messaging;
  /** A region's own message log (its conversations and the copies it holds as a replica). */
  log(region: string): MessageLog;
  /** Make a region unreachable (its bus and log), then bring it back. */
  kill(region: string): Promise<void>;
  revive(region: string): Promise<void>;
  /** Cut the link between two regions (both ways), then restore it. */
  cut(a: string, b: string): Promise<void>;
  restore(a: string, b: string): Promise<void>;
  close(): Promise<void>;
}

export interface DeploymentFactory {
  readonly name: string;
  /** A deployment of these three regions (the topology sets replication and failover timing). */
  create(topology: Topology): Promise<Deployment>;
}

let ids = 0;
const uid = (p: string): string => `${p}${++ids}-${Math.random().toString(36).slice(2, 7)}`;

interface Seen {
  deliveries: Delivery[];
  frames(): Array<{ type: string; conversation: string; seq: number; from?: string; body?: unknown; user?: string; kind?: string }>;
  stop(): void;
}

function collect(subscribe: (h: (d: Delivery) => void) => () => void): Seen {
  const deliveries: Delivery[] = [];
  const stop = subscribe((d) => deliveries.push(d));
  return { deliveries, frames: () => deliveries.map((d) => JSON.parse(d.frame) as ReturnType<Seen['frames']>[number]), stop };
}

export async function eventually(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends can meet a fresh subscription's interest still crossing gateways: retry until stored. */
async function settle(ms = 300): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Short kills in this suite must not fail a home over: failover has its own suite below. */
const SUITE_TOPOLOGY: Topology = { ...defaultTopology(), replication: { ...defaultTopology().replication, failoverAfterMs: 600_000 } };
/** Failover quickly, so the failover suite takes seconds. */
const FAILOVER_TOPOLOGY: Topology = { ...defaultTopology(), replication: { ...defaultTopology().replication, failoverAfterMs: 1500 } };

export function runMessagingConformance(factory: DeploymentFactory): void {
  describe(`messaging conformance: ${factory.name}`, () => {
    let d: Deployment;
    let A: string, B: string, C: string;
    let placement: ConversationPlacement;
    /** Fresh users whose direct conversation is homed in `region` (homes are hashed from the id). */
    const pairHomedIn = (region: string): [string, string] => {
      for (;;) {
        const pair: [string, string] = [uid('alice'), uid('bob')];
        if (placement.homeOf(dmConversation(...pair)) === region) return pair;
      }
    };
    const roomHomedIn = (region: string): string => {
      for (;;) {
        const room = uid('room');
        if (placement.homeOf(roomConversation(room)) === region) return room;
      }
    };
    beforeAll(async () => {
      d = await factory.create(SUITE_TOPOLOGY);
      [A, B, C] = d.regions as [string, string, string];
      placement = new ConversationPlacement(d.topology);
    }, 120_000);
    afterAll(async () => d?.close(), 60_000);

    it('a direct message reaches the recipient in another region and the sender\'s other region, acked with seq 1', async () => {
      const [alice, bob] = pairHomedIn(A);
      const bobSeen = collect((h) => d.messaging(C).onUser(bob, h));
      const aliceElsewhere = collect((h) => d.messaging(B).onUser(alice, h));
      await settle();
      const ack = await d.messaging(A).send({ from: alice, to: { user: bob }, body: { text: 'hi' }, clientMsgId: 'c1' });
      expect(ack).toMatchObject({ conversation: dmConversation(alice, bob), seq: 1, duplicate: false, home: A });
      await eventually(() => bobSeen.deliveries.length === 1 && aliceElsewhere.deliveries.length === 1, 'both deliveries');
      const f = bobSeen.frames()[0];
      expect(f).toMatchObject({ type: 'message', conversation: ack.conversation, seq: 1, from: alice, body: { text: 'hi' } });
      expect(JSON.parse(aliceElsewhere.deliveries[0]!.frame)).toMatchObject({ messageId: ack.messageId, region: A });
      bobSeen.stop();
      aliceElsewhere.stop();
    });

    it('a conversation has one home whichever region sends: the first send from elsewhere is forwarded there, a reply from a third region gets the next seq from the same log', async () => {
      const [alice, bob] = pairHomedIn(B);
      const first = await d.messaging(A).send({ from: alice, to: { user: bob }, body: 'one', clientMsgId: 'x1' });
      const reply = await d.messaging(C).send({ from: bob, to: { user: alice }, body: 'two', clientMsgId: 'x1' });
      expect(first.home).toBe(B);
      expect(reply.home).toBe(B);
      expect(reply.seq).toBe(2);
      const page = await d.messaging(A).history(first.conversation);
      expect(page.messages.map((m) => [m.seq, m.from, m.body, m.region])).toEqual([
        [1, alice, 'one', A],
        [2, bob, 'two', C],
      ]);
      expect(page.lastSeq).toBe(2);
      expect(page.firstAvailable).toBe(1);
    });

    it('a room message reaches its subscribers in every region', async () => {
      const room = uid('room');
      const seen = d.regions.map((r) => collect((h) => d.messaging(r).onRoom(room, h)));
      await settle();
      const ack = await d.messaging(B).send({ from: uid('u'), to: { room }, body: 'hello room', clientMsgId: 'r1' });
      expect(ack.conversation).toBe(roomConversation(room));
      await eventually(() => seen.every((s) => s.deliveries.length === 1), 'a delivery in every region');
      for (const s of seen) {
        expect(s.frames()[0]).toMatchObject({ seq: 1, body: 'hello room' });
        s.stop();
      }
    });

    it('concurrent senders in three regions: dense seqs, one order for every recipient, each sender\'s order kept', async () => {
      const room = uid('room');
      const seen = d.regions.map((r) => collect((h) => d.messaging(r).onRoom(room, h)));
      await settle();
      const per = 8;
      await Promise.all(
        d.regions.map(async (r, i) => {
          for (let n = 0; n < per; n++) await d.messaging(r).send({ from: `sender${i}`, to: { room }, body: { n }, clientMsgId: `s${i}-${n}` });
        }),
      );
      const total = per * d.regions.length;
      await eventually(() => seen.every((s) => s.deliveries.length >= total), 'every delivery everywhere');
      const orders = seen.map((s) => s.frames().map((f) => `${f.from}:${(f.body as { n: number }).n}`));
      for (const s of seen) expect(s.frames().map((f) => f.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(orders[1]).toEqual(orders[0]);
      expect(orders[2]).toEqual(orders[0]);
      for (let i = 0; i < d.regions.length; i++) {
        const mine = orders[0]!.filter((x) => x.startsWith(`sender${i}:`)).map((x) => Number(x.split(':')[1]));
        expect(mine).toEqual(Array.from({ length: per }, (_, n) => n));
      }
      for (const s of seen) s.stop();
    });

    it('a retried send with the same clientMsgId, from another region, is stored and delivered once and gets the same ack', async () => {
      const alice = uid('alice');
      const bob = uid('bob');
      const bobSeen = collect((h) => d.messaging(C).onUser(bob, h));
      await settle();
      const first = await d.messaging(A).send({ from: alice, to: { user: bob }, body: 'once', clientMsgId: 'same' });
      const retry = await d.messaging(B).send({ from: alice, to: { user: bob }, body: 'ignored', clientMsgId: 'same' });
      expect(retry).toEqual({ ...first, duplicate: true });
      await eventually(() => bobSeen.deliveries.length >= 1, 'the delivery');
      await settle(200);
      expect(bobSeen.deliveries).toHaveLength(1);
      expect((await d.messaging(C).history(first.conversation)).messages).toHaveLength(1);
      bobSeen.stop();
    });

    it('offline inbox: messages to a user with no connection are pending in every region until acked, and the sender hears the receipt', async () => {
      const alice = uid('alice');
      const bob = uid('bob');
      for (let i = 1; i <= 3; i++) await d.messaging(A).send({ from: alice, to: { user: bob }, body: `m${i}`, clientMsgId: `p${i}` });
      const conversation = dmConversation(alice, bob);
      for (const r of d.regions) expect(await d.messaging(r).pending(bob)).toEqual([{ conversation, cursor: 0, lastSeq: 3 }]);
      const receipts = collect((h) => d.messaging(A).onUser(alice, h));
      await settle();
      await d.messaging(C).ackDelivered(bob, conversation, 2);
      expect(await d.messaging(B).pending(bob)).toEqual([{ conversation, cursor: 2, lastSeq: 3 }]);
      expect(await d.messaging(A).cursor(bob, conversation)).toBe(2);
      // A cursor never goes down.
      await d.messaging(B).ackDelivered(bob, conversation, 1);
      expect(await d.messaging(A).cursor(bob, conversation)).toBe(2);
      await d.messaging(B).ackDelivered(bob, conversation, 3);
      expect(await d.messaging(C).pending(bob)).toEqual([]);
      await eventually(() => receipts.deliveries.filter((x) => x.kind === 'receipt').length >= 2, 'two receipts to alice');
      expect(receipts.frames().filter((f) => f.type === 'receipt').map((f) => [f.kind, f.user, f.seq])).toEqual([
        ['delivered', bob, 2],
        ['delivered', bob, 3],
      ]);
      await d.messaging(C).ackRead(bob, conversation, 3);
      await eventually(() => receipts.frames().some((f) => f.type === 'receipt' && f.kind === 'read'), 'a read receipt');
      receipts.stop();
    });

    it('history pages with after/limit from any region; an unknown conversation is empty', async () => {
      const room = roomHomedIn(B);
      for (let i = 1; i <= 5; i++) await d.messaging(C).send({ from: 'u', to: { room }, body: i, clientMsgId: `h${i}` });
      const page = await d.messaging(A).history(roomConversation(room), { after: 2, limit: 2 });
      expect(page.messages.map((m) => m.body)).toEqual([3, 4]);
      expect(page.lastSeq).toBe(5);
      expect(await d.messaging(B).lastSeq(roomConversation(room))).toBe(5);
      expect(await d.messaging(B).history(roomConversation(uid('never')))).toMatchObject({ messages: [], lastSeq: 0, firstAvailable: 1 });
    });

    it('bad input gets typed errors: invalid ids, bad sequences, non-participants', async () => {
      const m = d.messaging(A);
      const code = async (p: Promise<unknown>): Promise<unknown> => p.then(() => 'resolved', (e: { code?: string }) => e.code);
      expect(await code(m.send({ from: '', to: { user: 'b' }, body: 1, clientMsgId: 'c' }))).toBe(ErrorCode.MsgInvalid);
      expect(await code(m.send({ from: 'a', to: { user: 'b' }, body: 1, clientMsgId: '' }))).toBe(ErrorCode.MsgInvalid);
      expect(await code(m.send({ from: 'a', to: {} as { user: string }, body: 1, clientMsgId: 'c' }))).toBe(ErrorCode.MsgInvalid);
      expect(await code(m.history('nonsense'))).toBe(ErrorCode.MsgInvalid);
      const ack = await m.send({ from: uid('a'), to: { user: uid('b') }, body: 1, clientMsgId: 'c' });
      expect(await code(m.ackDelivered('mallory', ack.conversation, 1))).toBe(ErrorCode.MsgForbidden);
      const [, a] = ack.conversation.split(':') as [string, string];
      expect(await code(m.ackDelivered(a, ack.conversation, 5))).toBe(ErrorCode.MsgBadSequence);
    });

    it('a replicated send is acked once its replica region holds it: the same entry at the same seq', async () => {
      const [alice, bob] = pairHomedIn(A);
      const conversation = dmConversation(alice, bob);
      const [replica] = placement.replicasOf(conversation);
      expect(replica).toBeDefined();
      expect(replica).not.toBe(A);
      const ack = await d.messaging(B).send({ from: alice, to: { user: bob }, body: { n: 1 }, clientMsgId: 'r1', durability: 'replicated' });
      expect(ack).toMatchObject({ seq: 1, home: A, durability: 'replicated' });
      // No waiting: the ack means the copy is there.
      const [source, copy] = await Promise.all([d.log(A).read(conversation), d.log(replica!).read(conversation)]);
      expect(copy).toEqual(source);
      expect(copy.map((e) => e.seq)).toEqual([1]);
    });

    it('local sends are acked at the home and copied to the replica behind the ack, in order', async () => {
      const [alice, bob] = pairHomedIn(B);
      const conversation = dmConversation(alice, bob);
      const replica = placement.replicasOf(conversation)[0]!;
      for (let i = 1; i <= 5; i++) expect(await d.messaging(C).send({ from: alice, to: { user: bob }, body: i, clientMsgId: `l${i}` })).toMatchObject({ seq: i, durability: 'local' });
      await eventually(async () => (await d.log(replica).last(conversation)) === 5, 'the replica to catch up');
      expect(await d.log(replica).read(conversation)).toEqual(await d.log(B).read(conversation));
    });

    it('a replicated send whose replica is unreachable fails as retryable; the retry once it is back gets the same seq', async () => {
      const [alice, bob] = pairHomedIn(A);
      const conversation = dmConversation(alice, bob);
      const replica = placement.replicasOf(conversation)[0]!;
      const bobSeen = collect((h) => d.messaging(A).onUser(bob, h));
      await settle();
      await d.kill(replica);
      let code: unknown;
      try {
        code = await d.messaging(A).send({ from: alice, to: { user: bob }, body: 'x', clientMsgId: 'u1', durability: 'replicated' }).then(() => 'acked', (e: { code?: string }) => e.code);
      } finally {
        await d.revive(replica);
      }
      expect([ErrorCode.MsgUnavailable, ErrorCode.MsgTimeout]).toContain(code);
      let ack;
      await eventually(async () => {
        ack = await d.messaging(A).send({ from: alice, to: { user: bob }, body: 'x', clientMsgId: 'u1', durability: 'replicated' }).catch(() => undefined);
        return ack !== undefined;
      }, 'the replica to take the copy', 30_000);
      expect(ack).toMatchObject({ seq: 1, duplicate: true, durability: 'replicated' });
      expect((await d.log(replica).read(conversation)).map((e) => e.seq)).toEqual([1]);
      // The first attempt stored it but could not publish it (no copy yet): the retry did, once.
      await eventually(() => bobSeen.deliveries.length >= 1, 'bob to get the message');
      await settle(200);
      expect(bobSeen.frames().map((f) => f.seq)).toEqual([1]);
      bobSeen.stop();
    }, 60_000);

    it('sends to a conversation homed in an unreachable region fail as retryable, then succeed after it is back', async () => {
      const [alice, bob] = pairHomedIn(C);
      const first = await d.messaging(C).send({ from: alice, to: { user: bob }, body: 1, clientMsgId: 'k1' });
      expect(first.home).toBe(C);
      await d.kill(C);
      try {
        const err = await d.messaging(B).send({ from: bob, to: { user: alice }, body: 2, clientMsgId: 'k2' }).then(() => null, (e: { code?: string }) => e.code);
        expect([ErrorCode.MsgUnavailable, ErrorCode.MsgTimeout]).toContain(err);
      } finally {
        await d.revive(C);
      }
      let ack;
      await eventually(async () => {
        ack = await d.messaging(B).send({ from: bob, to: { user: alice }, body: 2, clientMsgId: 'k2' }).catch(() => undefined);
        return ack !== undefined;
      }, 'the home region to answer again', 30_000);
      expect(ack).toMatchObject({ seq: 2, home: C });
    }, 60_000);

  });
}

/** Home failover with fencing (src/failover), on a deployment of its own: a failover is for good. */
export function runFailoverConformance(factory: DeploymentFactory): void {
  describe(`home failover: ${factory.name}`, () => {
    let d: Deployment;
    let A: string, C: string;
    let placement: ConversationPlacement;
    const pairHomedIn = (region: string): [string, string] => {
      for (;;) {
        const pair: [string, string] = [uid('alice'), uid('bob')];
        if (placement.homeOf(dmConversation(...pair)) === region) return pair;
      }
    };
    beforeAll(async () => {
      d = await factory.create(FAILOVER_TOPOLOGY);
      [A, , C] = d.regions as [string, string, string];
      placement = new ConversationPlacement(d.topology);
    }, 120_000);
    afterAll(async () => d?.close(), 60_000);

    it('a home lost for good: its replica takes over under epoch 2, continues the sequence past what the old home could have acked, keeps every replicated ack; the returning home forwards instead of writing', async () => {
      const [alice, bob] = pairHomedIn(C);
      const conversation = dmConversation(alice, bob);
      const replica = placement.replicasOf(conversation)[0]!;
      const acked: { seq: number; messageId: string }[] = [];
      for (let i = 1; i <= 5; i++) acked.push(await d.messaging(A).send({ from: alice, to: { user: bob }, body: i, clientMsgId: `f${i}`, durability: 'replicated' }));
      await d.kill(C);
      let next: Awaited<ReturnType<Messaging['send']>> | undefined;
      const sender = d.regions.find((r) => r !== C && r !== replica) ?? replica;
      try {
        await eventually(async () => {
          next = await d.messaging(sender).send({ from: bob, to: { user: alice }, body: 'after', clientMsgId: 'f6', durability: 'replicated' }).catch(() => undefined);
          return next !== undefined;
        }, `${replica} to take over from ${C}`, 45_000);
      } finally {
        await d.revive(C);
      }
      // Epoch 2 starts maxUnreplicated past the copy: the old home may have acked that many
      // `local` messages the copy never got, and their seqs must never mean something else.
      const gap = d.topology.replication.maxUnreplicated;
      expect(next).toMatchObject({ seq: 5 + gap + 1, home: replica, durability: 'replicated', duplicate: false });
      const page = await d.messaging(sender).history(conversation);
      expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 5 + gap + 1]);
      expect(page.messages.slice(0, 5).map((m) => m.messageId)).toEqual(acked.map((a) => a.messageId));
      // The returning home learns it lost the pair and passes writes on to the new owner.
      let viaOld: Awaited<ReturnType<Messaging['send']>> | undefined;
      await eventually(async () => {
        viaOld = await d.messaging(C).send({ from: alice, to: { user: bob }, body: 'via old home', clientMsgId: 'f7' }).catch(() => undefined);
        return viaOld !== undefined;
      }, `${C} to answer again`, 45_000);
      expect(viaOld).toMatchObject({ seq: 5 + gap + 2, home: replica });
      expect(await d.log(C).last(conversation)).toBe(5);
    }, 120_000);

    it('a returning home reports the `local` acks its replica never got as an event on the conversation, and keeps them aside', async () => {
      // A pair that has not failed over yet (the case above took C's conversations away).
      const [alice, bob] = pairHomedIn(A);
      const conversation = dmConversation(alice, bob);
      const replica = placement.replicasOf(conversation)[0]!;
      const third = d.regions.find((r) => r !== A && r !== replica)!;
      for (let i = 1; i <= 2; i++) await d.messaging(A).send({ from: alice, to: { user: bob }, body: i, clientMsgId: `r${i}`, durability: 'replicated' });
      // The home cannot reach its replica (the third region still hears it: no takeover), and
      // acks three `local` sends the replica never gets.
      await d.cut(A, replica);
      const local: number[] = [];
      try {
        for (let i = 3; i <= 5; i++) local.push((await d.messaging(A).send({ from: alice, to: { user: bob }, body: i, clientMsgId: `l${i}`, durability: 'local' })).seq);
        expect(local).toEqual([3, 4, 5]);
        await d.kill(A);
        try {
          await eventually(async () => (await d.messaging(third).send({ from: bob, to: { user: alice }, body: 'after', clientMsgId: 'a1', durability: 'replicated' }).catch(() => undefined)) !== undefined, `${replica} to take over from ${A}`, 45_000);
        } finally {
          await d.restore(A, replica);
        }
      } finally {
        await d.revive(A);
      }
      // Back, the old home tells the new owner, which writes the event into the conversation.
      const gap = d.topology.replication.maxUnreplicated;
      let event: StoredMessage | undefined;
      await eventually(async () => {
        const page = await d.messaging(replica).history(conversation).catch(() => undefined);
        event = page?.messages.find((m) => m.event === 'failover_aside');
        return event !== undefined;
      }, 'the failover_aside event in the conversation', 45_000);
      expect(event).toMatchObject({ from: 'meridian', seq: 2 + gap + 2, body: { region: A, fromSeq: 3, toSeq: 5, count: 3 } });
      // Read through any region, it is the same entry; the three acks stay in the old home's log.
      const viaThird = await d.messaging(third).history(conversation);
      expect(viaThird.messages.map((m) => [m.seq, m.event ?? null])).toEqual([[1, null], [2, null], [2 + gap + 1, null], [2 + gap + 2, 'failover_aside']]);
      expect((await d.log(A).read(conversation)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    }, 150_000);
  });
}
