/**
 * The messaging semantics of issue 3, end to end: real region nodes, real WebSockets, the
 * TypeScript client, three regions. One suite, run on every deployment (embedded bus, NATS
 * super-cluster); a case that cannot hold on one of them would be listed with its reason.
 *
 * Each case uses its own users and rooms, so cases do not see each other's traffic. The drain
 * case runs last: a drained node refuses new connections for the rest of the run.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { MeridianClient } from '../../src/client/node.js';
import type { ClientOptions, SendAck } from '../../src/client/node.js';
import { dmConversation } from '../../src/protocol/mod.js';
import type { DeploymentFactory, E2eDeployment, Region } from './deployments.js';
import { withoutQuickFailover } from './deployments.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { Recorder, sleep, waitFor } from './helpers.js';

export function messagingSuite(name: string, factory: DeploymentFactory): void {
  describe(`messaging end to end: ${name}`, () => {
    let d: E2eDeployment;
    const clients: MeridianClient[] = [];

    async function open(region: Region, user: string, extra: Partial<ClientOptions> = {}): Promise<Recorder> {
      const c = new MeridianClient({ url: d.wsUrl(region), user, backoff: { initialMs: 100, maxMs: 1000 }, ...extra });
      clients.push(c);
      const r = new Recorder(c);
      await c.connected();
      return r;
    }

    beforeAll(async () => {
      d = await factory(withoutQuickFailover());
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });
    afterAll(async () => {
      await d?.close();
    });

    it('delivers direct and room messages across regions, to every connection', async () => {
      const alice = await open('us-east', 'x-alice');
      const aliceOther = await open('ap-southeast', 'x-alice');
      const bobs = [await open('eu-west', 'x-bob'), await open('ap-southeast', 'x-bob')];
      const dm = dmConversation('x-alice', 'x-bob');
      const ack = await alice.client.send({ user: 'x-bob' }, { text: 'hello' });
      for (const r of [...bobs, aliceOther]) expect((await r.count(dm, 1))[0]).toMatchObject({ seq: ack.seq, from: 'x-alice', body: { text: 'hello' }, region: 'us-east' });

      const members = [alice, ...bobs, await open('eu-west', 'x-carol')];
      await Promise.all(members.map((m) => m.client.join('x-room')));
      await members[3]!.client.send({ room: 'x-room' }, 'from eu-west');
      await bobs[1]!.client.send({ room: 'x-room' }, 'from ap-southeast');
      await alice.client.send({ room: 'x-room' }, 'from us-east');
      // Every member sees the others' messages (its own come back as its acks).
      for (const m of members) await m.count('room:x-room', 2);
      for (const m of members) expect(new Set(m.seqs('room:x-room')).size).toBe(m.in('room:x-room').length);
    });

    it('keeps one dense order per conversation under concurrent senders in three regions', async () => {
      const room = 'o-room';
      const conv = `room:${room}`;
      const regions: Region[] = ['us-east', 'eu-west', 'ap-southeast'];
      const senders = await Promise.all(regions.map((r, i) => open(r, `o-sender${i}`)));
      const readers = await Promise.all(regions.map((r, i) => open(r, `o-reader${i}`)));
      await Promise.all(readers.map((r) => r.client.join(room)));
      const PER = 10;
      // Pipelined: each sender fires all its sends at once, as a chat client with a queue would.
      const acks: SendAck[][] = await Promise.all(senders.map((s, i) => Promise.all(Array.from({ length: PER }, (_, k) => s.client.send({ room }, { s: i, k })))));
      const total = PER * senders.length;
      const all = acks.flat().map((a) => a.seq);
      expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      for (const r of readers) await r.count(conv, total, 15_000);
      const order = readers[0]!.in(conv).map((m) => m.messageId);
      for (const r of readers) {
        expect(r.seqs(conv)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
        expect(r.in(conv).map((m) => m.messageId)).toEqual(order);
      }
      // Each sender's messages appear in the order it sent them, and with ascending acked seqs.
      const bodies = readers[0]!.bodies(conv) as { s: number; k: number }[];
      for (let i = 0; i < senders.length; i++) {
        expect(bodies.filter((b) => b.s === i).map((b) => b.k)).toEqual(Array.from({ length: PER }, (_, k) => k));
        const seqs = acks[i]!.map((a) => a.seq);
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      }
    });

    it('stores and delivers a retried send once, with the original ack, from any region', async () => {
      const first = await open('us-east', 'r-alice');
      const retry = await open('ap-southeast', 'r-alice'); // the same user retrying after moving region
      const bob = await open('eu-west', 'r-bob');
      const dm = dmConversation('r-alice', 'r-bob');
      const ack = await first.client.send({ user: 'r-bob' }, 'exactly once', { clientMsgId: 'retry-1' });
      const again = await Promise.all([retry.client.send({ user: 'r-bob' }, 'exactly once', { clientMsgId: 'retry-1' }), first.client.send({ user: 'r-bob' }, 'exactly once', { clientMsgId: 'retry-1' })]);
      for (const a of again) expect(a).toEqual({ ...ack, duplicate: true });
      await bob.count(dm, 1);
      await sleep(400);
      expect(bob.seqs(dm)).toEqual([ack.seq]);
    });

    it('delivers an offline inbox in another region, once per acknowledged cursor', async () => {
      const sender = await open('us-east', 'i-dave');
      const dm = dmConversation('i-dave', 'i-carol');
      for (let i = 1; i <= 3; i++) await sender.client.send({ user: 'i-carol' }, `offline ${i}`);
      const carol = await open('ap-southeast', 'i-carol');
      expect((await carol.count(dm, 3)).map((m) => m.body)).toEqual(['offline 1', 'offline 2', 'offline 3']);
      await carol.client.close(); // flushes the delivery-ack cursor
      // The cursor is acknowledged once stored (write-behind, across the WAN): only then does it count.
      await waitFor(async () => (await d.inner.region('eu-west').messaging.cursor('i-carol', dm)) === 3, 'the delivered cursor to reach eu-west');
      await sender.client.send({ user: 'i-carol' }, 'offline 4');
      const later = await open('eu-west', 'i-carol');
      await later.count(dm, 1);
      await sleep(400);
      expect(later.bodies(dm)).toEqual(['offline 4']);
    });

    it('resumes after reconnecting to a different region, with the gap filled', async () => {
      const room = 'm-room';
      const conv = `room:${room}`;
      const sender = await open('us-east', 'm-sender');
      const first = await open('eu-west', 'm-erin');
      await first.client.join(room);
      await sender.client.send({ room }, 'seen');
      await sender.client.send({ user: 'm-erin' }, 'seen dm');
      await first.count(conv, 1);
      await first.count(dmConversation('m-erin', 'm-sender'), 1);
      const positions = first.client.positions();
      await first.client.close();
      for (let i = 1; i <= 5; i++) await sender.client.send({ room }, `missed ${i}`);
      await sender.client.send({ user: 'm-erin' }, 'missed dm');
      const again = await open('ap-southeast', 'm-erin', { positions });
      await again.client.join(room);
      expect((await again.count(conv, 5)).map((m) => m.body)).toEqual([1, 2, 3, 4, 5].map((i) => `missed ${i}`));
      expect((await again.count(dmConversation('m-erin', 'm-sender'), 1)).map((m) => m.body)).toEqual(['missed dm']);
      expect(again.resumed.filter((f) => !f.recovered)).toEqual([]);
      await sender.client.send({ room }, 'live again');
      await again.count(conv, 6);
    });

    it('converges presence across regions and reports a reconnect within grace as no change', async () => {
      const watcherUs = await open('us-east', 'p-watch1');
      const watcherAp = await open('ap-southeast', 'p-watch2');
      await watcherUs.client.subscribePresence({ user: 'p-fay' });
      await watcherAp.client.subscribePresence({ room: 'p-room' });
      const t0 = Date.now();
      const fay = await open('eu-west', 'p-fay');
      await fay.client.join('p-room');
      await waitFor(() => watcherUs.presence.some((e) => e.event === 'online' && e.user === 'p-fay'), 'online in us-east', 3000);
      await waitFor(() => watcherAp.presence.some((e) => e.event === 'join' && e.user === 'p-fay' && e.room === 'p-room'), 'join in ap-southeast', 3000);
      expect(Date.now() - t0).toBeLessThan(3000);
      const seen = await watcherAp.client.presence({ user: 'p-fay' });
      expect(seen).toMatchObject({ of: 'user', state: { online: true, regions: ['eu-west'], connections: 1 } });
      // Back within the grace period, in another region: no offline/online flap.
      await fay.client.close();
      const back = await open('ap-southeast', 'p-fay');
      await sleep(800);
      expect(watcherUs.presence.filter((e) => e.user === 'p-fay').map((e) => e.event)).toEqual(['online']);
      expect(await watcherUs.client.presence({ user: 'p-fay' })).toMatchObject({ of: 'user', state: { online: true, regions: ['ap-southeast'] } });
      // Gone for good: offline after the grace, everywhere.
      await back.client.close();
      await waitFor(() => watcherUs.presence.some((e) => e.event === 'offline' && e.user === 'p-fay'), 'offline in us-east', 5000);
      await waitFor(async () => {
        const after = await watcherAp.client.presence({ room: 'p-room' });
        return after.of === 'room' && after.members.length === 0;
      }, 'the room to be empty in ap-southeast', 5000);
      await waitFor(() => watcherAp.presence.some((e) => e.event === 'leave' && e.user === 'p-fay'), 'leave in ap-southeast', 3000);
    });

    it("delivers every acked message after a region's bus dies mid-stream", async () => {
      // A room homed in the region whose bus dies (homes are hashed from the id).
      const placement = new ConversationPlacement(defaultTopology());
      let room = 'k-room';
      for (let i = 0; placement.homeOf(`room:${room}`) !== 'ap-southeast'; i++) room = `k-room-${i}`;
      const conv = `room:${room}`;
      const sender = await open('ap-southeast', 'k-sender', { requestTimeoutMs: 2000 });
      const readers = [await open('eu-west', 'k-reader1'), await open('us-east', 'k-reader2')];
      await Promise.all(readers.map((r) => r.client.join(room)));
      await sender.client.send({ room }, 0);
      const acked: SendAck[] = [];
      const sends: Promise<void>[] = [];
      for (let i = 1; i <= 30; i++) {
        sends.push(sender.client.send({ room }, i).then((a) => void acked.push(a)));
        if (i === 10) await d.killBus('ap-southeast');
        if (i === 20) {
          // The outage was real: sends made while the bus was gone were not acked meanwhile.
          expect(acked.length).toBeLessThan(20);
          await d.reviveBus('ap-southeast');
        }
        await sleep(20);
      }
      // The client keeps retrying what was not acked; once the region is back, everything is.
      await Promise.race([Promise.all(sends), sleep(25_000).then(() => Promise.reject(new Error(`only ${acked.length} of 30 sends acked`)))]);
      const seqs = acked.map((a) => a.seq);
      expect(new Set(seqs).size).toBe(30);
      for (const r of readers) {
        await waitFor(() => seqs.every((s) => r.seqs(conv).includes(s)), () => `reader to have every acked seq (missing ${seqs.filter((s) => !r.seqs(conv).includes(s)).join(',')})`, 20_000);
        const got = r.seqs(conv);
        expect([...got].sort((a, b) => a - b)).toEqual(got);
      }
    });

    it('drains a region with zero loss: clients follow migrate and resume elsewhere', async () => {
      const room = 'd-room';
      const conv = `room:${room}`;
      const sender = await open('us-east', 'd-sender');
      const movers = [await open('eu-west', 'd-mover1'), await open('eu-west', 'd-mover2')];
      await Promise.all(movers.map((m) => m.client.join(room)));
      await sender.client.send({ room }, 0);
      await sender.client.send({ user: 'd-mover1' }, 'dm 0');
      for (const m of movers) await m.count(conv, 1);
      const acks: Promise<SendAck>[] = [];
      const moverAcks: Promise<SendAck>[] = [];
      const draining = d.inner.region('eu-west').node.drain({ deadlineMs: 8000 });
      for (let i = 1; i <= 20; i++) {
        acks.push(sender.client.send({ room }, i));
        if (i % 5 === 0) acks.push(sender.client.send({ user: 'd-mover1' }, `dm ${i}`));
        moverAcks.push(movers[1]!.client.send({ user: 'd-sender' }, `back ${i}`));
        await sleep(25);
      }
      await Promise.all([...acks, ...moverAcks]);
      await draining;
      for (const m of movers) {
        await m.count(conv, 21);
        expect(m.bodies(conv)).toEqual(Array.from({ length: 21 }, (_, i) => i));
        expect(m.statuses.some((s) => s.type === 'migrating')).toBe(true);
        expect(m.client.status.type === 'connected' && m.client.status.region).not.toBe('eu-west');
      }
      expect((await movers[0]!.count(dmConversation('d-mover1', 'd-sender'), 5)).map((x) => x.body)).toEqual(['dm 0', 'dm 5', 'dm 10', 'dm 15', 'dm 20']);
      expect((await sender.count(dmConversation('d-mover2', 'd-sender'), 20)).map((x) => x.body)).toEqual(Array.from({ length: 20 }, (_, i) => `back ${i + 1}`));
    });
  });
}
