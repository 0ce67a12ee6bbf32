/**
 * Losing the region that holds the JetStream meta leader (NATS only): the super-cluster has one
 * meta group, and after its leader's region is lost the survivors have no leader for seconds
 * (the election; creating a stream or a consumer waits for it). Nothing on the survivors' data
 * path may wait for it: homes keep their write lease (fence records are read by key, not
 * listed through a consumer), and history reads walk the log instead of waiting for a consumer.
 * The test checks that sends and a long history read succeed while the survivors report no
 * meta leader (before and after them), so it shows what it claims.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { startDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { describeWithNats } from '../bus/nats-env.js';
import { NATS_LINK_MS, REGIONS } from './deployments.js';
import type { Region } from './deployments.js';

/** The meta leader's server name as `region`'s server reports it ('' while there is none). */
async function metaLeader(sc: SuperCluster, region: string): Promise<string> {
  const j = (await (await fetch(`${sc.httpUrl(region)}/jsz`, { signal: AbortSignal.timeout(2000) })).json()) as { meta_cluster?: { leader?: string } };
  return j.meta_cluster?.leader ?? '';
}

describeWithNats('losing the JetStream meta leader region', () => {
  let sc: SuperCluster;
  let d: Deployment;
  beforeAll(async () => {
    sc = await startSuperCluster({ regions: REGIONS, latencyMs: NATS_LINK_MS });
    const t = defaultTopology();
    d = await startDeployment({ ...t, replication: { ...t.replication, failoverAfterMs: 1500 } }, { bus: 'nats', nats: REGIONS.map((r) => `${r}=${sc.url(r)}`).join(','), region: { node: { auth: { dev: true } } } });
  }, 120_000);
  afterAll(async () => {
    await d?.close();
    await sc?.close();
  }, 60_000);

  it('survivors keep appending and reading history while they have no meta leader', async () => {
    // The harness names each region's server after the region.
    const lostName = await metaLeader(sc, REGIONS[0]);
    const lost = REGIONS.find((r) => r === lostName);
    expect(lost, `meta leader "${lostName}" is one of the regions`).toBeDefined();
    const survivors: readonly Region[] = REGIONS.filter((r) => r !== lost);
    // A conversation homed in a survivor with its copy in the other (bounded search); else one
    // whose copy is in the lost region (its `local` sends, fewer than maxUnreplicated, go on
    // without the copy). Either survivor may be the home: a survivor that started a few seconds
    // after the others is no longer taken over at startup (the failover's startup grace).
    const placement = new ConversationPlacement(d.topology);
    const rank = (c: string): number => {
      const home = placement.homeOf(c);
      const copy = placement.replicasOf(c)[0];
      if (survivors.includes(home as Region) && survivors.includes(copy as Region)) return 3;
      if (survivors.includes(home as Region) && copy === lost) return 2;
      return survivors.includes(home as Region) ? 1 : 0;
    };
    let pick: { a: string; b: string; score: number } | undefined;
    for (let i = 0; i < 5000 && (pick === undefined || pick.score < 3); i++) {
      const [x, y] = [`ml-a${i}`, `ml-b${i}`];
      const score = rank(dmConversation(x, y));
      if (score > (pick?.score ?? 0)) pick = { a: x, b: y, score };
    }
    expect(pick, 'a conversation homed in a survivor').toBeDefined();
    const { a, b } = pick!;
    const s1 = placement.homeOf(dmConversation(a, b)) as Region;
    const s2 = survivors.find((r) => r !== s1)!;
    const conversation = dmConversation(a, b);
    const m1 = d.region(s1).messaging;
    const m2 = d.region(s2).messaging;
    for (let i = 0; i < 40; i++) await m1.send({ from: a, to: { user: b }, body: `before ${i}`, clientMsgId: `before-${i}` });

    await sc.stop(lost!, { kill: true });
    try {
      const leaderless = async (): Promise<boolean> => {
        const seen = await Promise.all([metaLeader(sc, s1), metaLeader(sc, s2)]);
        return seen.every((l) => l === '' || l === lostName);
      };
      expect(await leaderless(), 'the survivors have no meta leader yet').toBe(true);
      // Several lease periods (750 ms) of sends, from the home and from the other survivor.
      const acks: number[] = [];
      const until = Date.now() + 2500;
      for (let i = 0; Date.now() < until && i < 60; i++) {
        const via = i % 2 === 0 ? m1 : m2;
        acks.push((await via.send({ from: i % 2 === 0 ? a : b, to: { user: i % 2 === 0 ? b : a }, body: `during ${i}`, clientMsgId: `during-${i}` })).seq);
      }
      // A read longer than one walk (32 entries), forwarded from the other survivor too.
      const page = await m2.history(conversation, { after: 0, limit: 1000 });
      const stillLeaderless = await leaderless();
      expect(stillLeaderless, 'no meta leader was elected meanwhile: the test showed what it claims (rerun if this fails)').toBe(true);
      expect(acks.length).toBeGreaterThan(5);
      expect(acks).toEqual(acks.map((_, i) => 41 + i));
      expect(page.messages.map((m) => m.seq)).toEqual(Array.from({ length: 40 + acks.length }, (_, i) => i + 1));
    } finally {
      await sc.start(lost!);
    }
  }, 120_000);
});
