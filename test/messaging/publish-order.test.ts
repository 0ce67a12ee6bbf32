/**
 * The writer publishes each conversation's messages in seq order (src/messaging/publish-order.ts).
 * Units: a publish waits for every lower seq appended here and not yet published or given up,
 * and no longer than its bound. On an embedded deployment: a `replicated` send waiting for its
 * copy over a slow link, and a `local` send of the same conversation right behind it, reach the
 * recipient's subject in seq order (the local one used to be published first, and nodes and
 * clients seeing a new conversation's seq 2 first dropped seq 1 as history).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { subjects } from '../../src/bus/subjects.js';
import { PublishOrder } from '../../src/messaging/publish-order.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import type { MessageLog } from '../../src/log/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { sleep, waitFor } from '../e2e/helpers.js';

describe('publish order', () => {
  it('a publish waits for every lower seq in flight, then goes; seqs without lower ones go at once', async () => {
    const o = new PublishOrder();
    for (const s of [1, 2, 3]) o.begin('c', s);
    const went: number[] = [];
    const t3 = o.turn('c', 3).then(() => went.push(3));
    const t2 = o.turn('c', 2).then(() => went.push(2));
    await o.turn('c', 1);
    await o.turn('other', 9); // nothing in flight there
    await sleep(10);
    expect(went).toEqual([]);
    o.done('c', 1);
    await t2;
    expect(went).toEqual([2]);
    o.done('c', 2); // given up (its send failed): 3 goes all the same
    await t3;
    expect(went).toEqual([2, 3]);
    o.done('c', 3);
    expect(o.size).toBe(0);
  });

  it('a missed done only delays a later publish by the bound', async () => {
    const timeouts: unknown[] = [];
    const o = new PublishOrder(50, (...a) => timeouts.push(a));
    o.begin('c', 1);
    o.begin('c', 2);
    const t0 = performance.now();
    await o.turn('c', 2);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    expect(timeouts).toEqual([['c', 2, [1]]]); // reported: the operator sees a send stuck that long
    o.done('c', 2);
    o.done('c', 1);
    expect(o.size).toBe(0);
  });
});

describe('publish order on a deployment', () => {
  let d: Deployment | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it('a local send right behind a replicated one waiting for its copy is published after it', async () => {
    const topology = defaultTopology();
    const placement = new ConversationPlacement(topology);
    let peer = '';
    for (let i = 0; placement.replicasOf(dmConversation('po-a', (peer = `po-b${i}`))).length === 0; i++);
    const conversation = dmConversation('po-a', peer);
    const home = placement.homeOf(conversation);
    const replica = placement.replicasOf(conversation)[0]!;
    d = await startEmbeddedDeployment(topology, { dataDir: ':memory:' });
    const seen: number[] = [];
    const sub = d.network!.connect(home).subscribe(subjects.user(peer), (m) => seen.push((JSON.parse(new TextDecoder().decode(m.data)) as { seq: number }).seq));
    try {
      // Warm: the conversation indexed, the link quick; then its copies slow.
      await d.region(home).messaging.send({ from: 'po-a', to: { user: peer }, body: 0, clientMsgId: 'po-0' });
      await waitFor(() => seen.length === 1, 'the first message published', 5000, 10);
      d.network!.setLatency(home, replica, 400);
      const first = d.region(home).messaging.send({ from: 'po-a', to: { user: peer }, body: 1, clientMsgId: 'po-1', durability: 'replicated' });
      await sleep(20); // appended, waiting for its copy
      const second = d.region(home).messaging.send({ from: 'po-a', to: { user: peer }, body: 2, clientMsgId: 'po-2', durability: 'local' });
      const [a, b] = await Promise.all([first, second]);
      expect([a.seq, b.seq]).toEqual([2, 3]);
      await waitFor(() => seen.length === 3, 'three messages published', 5000, 10);
      expect(seen).toEqual([1, 2, 3]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('an entry stored while the lease ran out is published in order at once; the retry gets it as a duplicate', async () => {
    const topology = { ...defaultTopology(), replication: { ...defaultTopology().replication, failoverAfterMs: 1500 } };
    const placement = new ConversationPlacement(topology);
    let peer = '';
    for (let i = 0; placement.replicasOf(dmConversation('pl-a', (peer = `pl-b${i}`))).length === 0; i++);
    const conversation = dmConversation('pl-a', peer);
    const home = placement.homeOf(conversation);
    const others = topology.regions.map((r) => r.name).filter((r) => r !== home);
    d = await startEmbeddedDeployment(topology, { dataDir: ':memory:' });
    const deployment = d;
    const seen: number[] = [];
    const sub = deployment.network!.connect(home).subscribe(subjects.user(peer), (m) => seen.push((JSON.parse(new TextDecoder().decode(m.data)) as { seq: number }).seq));
    const messaging = deployment.region(home).messaging;
    try {
      await waitFor(async () => (await messaging.send({ from: 'pl-a', to: { user: peer }, body: 0, clientMsgId: 'pl-0' }).then(() => true, () => false)), 'a first send', 10_000, 100);
      // The next append outlives the home's lease: its links to the others are cut while it is
      // under way (shorter than failoverAfterMs: nobody takes the conversation over), then restored.
      const log = deployment.region(home).log as { append: MessageLog['append'] };
      const append = log.append.bind(log);
      log.append = async (c, input) => {
        log.append = append;
        for (const r of others) deployment.network!.cut(home, r);
        await sleep(1000);
        for (const r of others) deployment.network!.restore(home, r);
        return append(c, input);
      };
      await expect(messaging.send({ from: 'pl-a', to: { user: peer }, body: 1, clientMsgId: 'pl-1' })).rejects.toMatchObject({ code: 'MSG_FENCED' });
      // Published before any retry, in order.
      await waitFor(() => seen.length === 2, 'the stored entry published', 5000, 10);
      expect(seen).toEqual([1, 2]);
      const retry = await messaging.send({ from: 'pl-a', to: { user: peer }, body: 1, clientMsgId: 'pl-1' });
      expect(retry).toMatchObject({ seq: 2, duplicate: true });
    } finally {
      sub.unsubscribe();
    }
  }, 30_000);
});
