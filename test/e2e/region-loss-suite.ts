/**
 * No region is special (issue 10), end to end: real region nodes, real clients, three regions.
 * Each region in turn — the topology's first included — loses its bus under traffic. In the two
 * survivors, during the loss: new conversations start (homed in either survivor, started from
 * the other), sends to conversations homed in survivors go through, receipts and cursors flow,
 * the survivors' users are online for each other; a conversation homed in the lost region is
 * refused with a retryable error until its replica region takes it over (src/failover), then
 * continues there with the next seq, every replicated ack kept. After the region returns, it
 * passes that conversation's writes on to the new owner.
 *
 * A checker then reads the recorded history against the logs: every acked message is stored
 * exactly once at its acked seq, every log is dense, nothing was stored that no one sent, each
 * sender's order is kept, and every recipient connected throughout got every acked message once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MeridianClient } from '../../src/client/node.js';
import { isMeridianError } from '../../src/errors/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation, wireErrorName } from '../../src/protocol/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import type { DeploymentFactory, E2eDeployment, Region } from './deployments.js';
import { REGIONS } from './deployments.js';
import { Recorder, sleep, waitFor } from './helpers.js';

interface Sent {
  readonly conversation: string;
  readonly from: string;
  readonly body: string;
  readonly seq: number;
  readonly messageId: string;
}

let ids = 0;
const uid = (p: string): string => `${p}${++ids}x${Math.random().toString(36).slice(2, 6)}`;

/**
 * The history check: for each conversation, the acked sends against what a region's log holds.
 * Returns the problems found (none: the history is valid).
 */
export function checkHistory(acked: readonly Sent[], logs: ReadonlyMap<string, readonly { seq: number; messageId: string; from: string; body: unknown }[]>, epochGap = 100): string[] {
  const problems: string[] = [];
  for (const [conversation, stored] of logs) {
    // Dense per epoch: one jump of exactly `epochGap + 1` is where a failover's epoch began.
    let jumps = 0;
    stored.forEach((m, i) => {
      const expected = i === 0 ? 1 : stored[i - 1]!.seq + 1;
      if (m.seq === expected) return;
      if (m.seq === expected + epochGap && jumps++ === 0) return;
      problems.push(`${conversation}: seq ${m.seq} at position ${i + 1} (not dense)`);
    });
    const byId = new Map<string, number>();
    for (const m of stored) byId.set(m.messageId, (byId.get(m.messageId) ?? 0) + 1);
    for (const [id, n] of byId) if (n > 1) problems.push(`${conversation}: ${id} stored ${n} times`);
    const mine = acked.filter((a) => a.conversation === conversation);
    const ackedIds = new Set(mine.map((a) => a.messageId));
    for (const a of mine) {
      const m = stored.find((x) => x.messageId === a.messageId);
      if (!m) problems.push(`${conversation}: acked ${a.messageId} (seq ${a.seq}) is lost`);
      else if (m.seq !== a.seq) problems.push(`${conversation}: acked ${a.messageId} at seq ${a.seq}, stored at ${m.seq}`);
    }
    // Sends that failed may have been stored (a timeout is "maybe"; `x:` bodies were retried under
    // new ids), but never something unsent.
    for (const m of stored) if (!ackedIds.has(m.messageId) && typeof m.body === 'string' && !m.body.startsWith('x:')) problems.push(`${conversation}: ${m.messageId} stored but never sent`);
    // Each sender's acked messages are stored in the order it sent them.
    const senders = new Set(mine.map((a) => a.from));
    for (const s of senders) {
      const order = mine.filter((a) => a.from === s).map((a) => a.seq);
      if (order.some((x, i) => i > 0 && x <= order[i - 1]!)) problems.push(`${conversation}: ${s}'s sends out of order: ${order.join(',')}`);
    }
  }
  return problems;
}

export function regionLossSuite(name: string, factory: DeploymentFactory, timing: { settleMs: number; lossMs: number }): void {
  it('the rule the suite relies on: homes spread over all three regions, the first one included', () => {
    const p = new ConversationPlacement(defaultTopology());
    const homes = new Set(Array.from({ length: 60 }, (_, i) => p.homeOf(dmConversation(`u${i}`, `v${i}`))));
    expect([...homes].sort()).toEqual([...REGIONS].sort());
  });

  describe(`no special region: ${name}`, () => {
    let d: E2eDeployment;
    let placement: ConversationPlacement;
    const clients: MeridianClient[] = [];

    async function open(region: Region, user: string): Promise<Recorder> {
      const c = new MeridianClient({ url: d.wsUrl(region), user, backoff: { initialMs: 100, maxMs: 1000 } });
      clients.push(c);
      const r = new Recorder(c);
      await c.connected();
      return r;
    }

    /** Fresh users whose direct conversation is homed in `region`. */
    const pairHomedIn = (region: Region): [string, string] => {
      for (;;) {
        const pair: [string, string] = [uid('a'), uid('b')];
        if (placement.homeOf(dmConversation(...pair)) === region) return pair;
      }
    };

    // A deployment per case: a failover is for good (the replica keeps the conversations it took
    // over), so each loss starts from a healthy deployment.
    beforeEach(async () => {
      d = await factory();
      placement = new ConversationPlacement(d.inner.topology);
    }, 120_000);
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await d?.close();
    }, 60_000);

    for (const lost of REGIONS) {
      it(`loses ${lost}${lost === REGIONS[0] ? ' (the first region of the topology)' : ''} under traffic: the survivors start conversations, send, receive receipts and see each other online; nothing acked is lost`, async () => {
        const [s1, s2] = REGIONS.filter((r) => r !== lost) as [Region, Region];
        // Two ongoing conversations, one homed in each survivor, their users split across them.
        const [a1, b1] = pairHomedIn(s1);
        const [a2, b2] = pairHomedIn(s2);
        const [ax, bx] = pairHomedIn(lost);
        const A1 = await open(s1, a1);
        const B1 = await open(s2, b1);
        const A2 = await open(s2, a2);
        const B2 = await open(s1, b2);
        const AX = await open(s1, ax);
        const acked: Sent[] = [];
        // Traffic in the survivors is `local` (a survivor conversation's replica may be the lost
        // region: `replicated` sends to it are refused until it is back); the lost region's
        // conversation is written `replicated`, so its acks must survive the failover.
        const send = async (r: Recorder, from: string, to: string, body: string, durability?: 'replicated'): Promise<Sent> => {
          const ack = await r.client.send({ user: to }, body, durability === undefined ? {} : { durability });
          const s = { conversation: ack.conversation, from, body, seq: ack.seq, messageId: ack.messageId };
          acked.push(s);
          return s;
        };
        await send(AX, ax, bx, 'before', 'replicated');

        // Traffic on both survivor-homed conversations while the region goes and comes back:
        // bounded in count and time.
        let stop = false;
        const traffic = (async () => {
          const end = Date.now() + timing.lossMs * 4 + 30_000;
          for (let i = 0; i < 400 && !stop && Date.now() < end; i++) {
            await Promise.all([send(A1, a1, b1, `m${i}`), send(A2, a2, b2, `m${i}`)]);
            await sleep(20);
          }
        })();
        await sleep(timing.settleMs);
        let moved: Sent | undefined;
        await d.killBus(lost);
        try {
          await sleep(timing.lossMs);
          // A new conversation homed in each survivor, started from the other survivor.
          for (const [home, from] of [[s1, s2], [s2, s1]] as const) {
            const [p, q] = pairHomedIn(home);
            const P = await open(from, p);
            const Q = await open(home, q);
            const first = await send(P, p, q, 'hello');
            expect(first.seq).toBe(1);
            await Q.count(first.conversation, 1);
            // Receipts flow back across the survivors.
            Q.client.markRead(first.conversation, 1);
            await waitFor(() => P.receipts.some((r) => r.conversation === first.conversation && r.kind === 'read' && r.seq === 1), 'the read receipt');
          }
          // Cursors: the delivered cursor of b1 at a1's conversation's home moves with acks.
          const conv1 = dmConversation(a1, b1);
          await waitFor(async () => (await d.inner.region(s2).messaging.cursor(b1, conv1)) > 0, 'b1\'s delivered cursor, read from the other survivor');
          // The survivors see each other's users online.
          expect((await d.inner.region(s1).presence.user(b1)).online).toBe(true);
          expect((await d.inner.region(s2).presence.user(a1)).online).toBe(true);
          // A conversation homed in the lost region: refused as retryable until its replica takes
          // over, then continued there under epoch 2 with the next seq.
          const xconv = dmConversation(ax, bx);
          const taker = placement.replicasOf(xconv)[0]!;
          const refusals = new Set<string>();
          await waitFor(async () => {
            const clientMsgId = uid('x');
            const r = await d.inner.region(s2).messaging.send({ from: bx, to: { user: ax }, body: 'x:while-lost', clientMsgId, durability: 'replicated' }).catch((e: unknown) => {
              refusals.add(isMeridianError(e) ? e.code : String(e));
              return undefined;
            });
            if (r) acked.push((moved = { conversation: r.conversation, from: bx, body: 'x:while-lost', seq: r.seq, messageId: r.messageId }));
            // Epoch 2 starts maxUnreplicated past the copy (seq 1): never a seq the old home gave.
            if (r) expect(r).toMatchObject({ home: taker, seq: 2 + d.inner.topology.replication.maxUnreplicated });
            return r !== undefined;
          }, `${taker} to take over the conversations of ${lost}`, 60_000);
          expect(moved!.seq).toBe(2 + d.inner.topology.replication.maxUnreplicated);
          // What a client sees is a retryable UNAVAILABLE or TIMEOUT: MSG_UNAVAILABLE / MSG_TIMEOUT /
          // MSG_FENCED, or LOG_UNAVAILABLE when the taker's JetStream log is briefly without its
          // meta leader (the lost region's server left the meta group), all mapped there.
          for (const code of refusals) expect(['UNAVAILABLE', 'TIMEOUT'], code).toContain(wireErrorName(code));
        } finally {
          await d.reviveBus(lost);
        }
        await sleep(timing.settleMs);
        stop = true;
        await traffic;
        // Its conversation goes on at the new owner, whichever region the sender is in.
        const back = await send(AX, ax, bx, 'after', 'replicated');
        expect(back.seq).toBe(moved!.seq + 1);

        // The checker: every log against the acks, read from a region that is not the home.
        const logs = new Map<string, { seq: number; messageId: string; from: string; body: unknown }[]>();
        for (const conversation of new Set(acked.map((a) => a.conversation))) {
          const reader = REGIONS.find((r) => r !== placement.homeOf(conversation))!;
          const page = await d.inner.region(reader).messaging.history(conversation, { limit: 1000 });
          logs.set(conversation, page.messages.map((m) => ({ seq: m.seq, messageId: m.messageId, from: m.from, body: m.body })));
        }
        expect(checkHistory(acked, logs, d.inner.topology.replication.maxUnreplicated)).toEqual([]);
        // Every recipient connected in a survivor throughout got every acked message once.
        for (const [R, conv] of [[B1, dmConversation(a1, b1)], [B2, dmConversation(a2, b2)]] as const) {
          const want = acked.filter((a) => a.conversation === conv).map((a) => a.seq);
          await waitFor(() => new Set(R.seqs(conv)).size >= want.length, `${want.length} messages in ${conv}`, 30_000);
          expect([...new Set(R.seqs(conv))].sort((x, y) => x - y)).toEqual(want.sort((x, y) => x - y));
          expect(R.seqs(conv).length).toBe(new Set(R.seqs(conv)).size);
        }
      }, 180_000);
    }
  });
}
