// Replication and failover figures on a real embedded deployment (issue 13's preamble: "Survive
// any region" on the same surfaces): copies move the replication block of /stats; a region cut
// off is taken over, and meridian_failover_takeovers_total, /stats' takeovers and the dashboard's
// reading of them (which region writes whose conversations) follow, once per takeover.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { parseNodeStats } from '../../src/edge/dashboard/stats.js';
import { writersOf } from '../../src/edge/dashboard/snapshot.js';
import { waitFor } from '../e2e/helpers.js';
import { promtoolCheck, promtoolMissing, value } from './prom.js';

const topology = { ...defaultTopology(), replication: { ...defaultTopology().replication, failoverAfterMs: 1000 } };
const placement = new ConversationPlacement(topology);
const LOST = 'eu-west';
/** The replica of a direct conversation homed in LOST: the region that takes it over. */
const OWNER = ((): string => {
  for (let i = 0; ; i++) {
    const c = dmConversation('fm-x', `fm-y${i}`);
    if (placement.homeOf(c) === LOST) return placement.replicasOf(c)[0]!;
  }
})();

/** A peer of `from` whose direct conversation with it is homed in `home` and copied to `replica`. */
function peer(from: string, home: string, replica: string): string {
  for (let i = 0; ; i++) {
    const c = dmConversation(from, `fm-peer${i}`);
    if (placement.homeOf(c) === home && placement.replicasOf(c)[0] === replica) return `fm-peer${i}`;
  }
}

let d: Deployment;

interface Stats {
  replication: { lagP99Ms: number | null; copies5m: number; failures1m: number };
  takeovers: { count: number; known: { home: string; owner: string }[]; writesFor: string[] };
}
const stats = async (region: string): Promise<Stats & Record<string, unknown>> => (await (await fetch(`${d.urls[region]}/stats`)).json()) as Stats & Record<string, unknown>;
const metrics = async (region: string): Promise<string> => (await fetch(`${d.urls[region]}/metrics`)).text();
const post = (region: string, from: string, to: string, id: string): Promise<Response> =>
  fetch(`${d.urls[region]}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to: { user: to }, body: id, clientMsgId: id }) });

beforeAll(async () => {
  d = await startEmbeddedDeployment(topology, { dataDir: ':memory:' });
});
afterAll(async () => {
  await d?.close();
});

describe('replication and failover on /metrics, /stats and the dashboard', () => {
  it(`copies to the replica show as lag p99 and copies; copies to ${LOST} cut off, as failures in the last minute`, async () => {
    // OWNER homes this conversation and copies it to LOST.
    const to = peer('fm-a', OWNER, LOST);
    for (let i = 0; i < 5; i++) expect((await post(OWNER, 'fm-a', to, `r${i}`)).status).toBe(201);
    let s = await stats(OWNER);
    // One copy carries every entry appended since the last: at least one, at most five.
    await waitFor(async () => (s = await stats(OWNER)).replication.copies5m >= 1, 'the entries copied', 5000, 100);
    expect(s.replication.copies5m).toBeLessThanOrEqual(5);
    // Over the embedded WAN (tens of ms between these regions), from append to held there.
    expect(s.replication.lagP99Ms).toBeGreaterThan(1);
    expect(s.replication.failures1m).toBe(0);
    expect(s.takeovers).toEqual({ count: 0, known: [], writesFor: [] });
    expect(value(await metrics(OWNER), 'meridian_failover_takeovers_total', { home_region: LOST, owner_region: OWNER })).toBe(0);

    d.network!.kill(LOST);
    // Acked as local at once; its copy behind the ack fails.
    expect((await post(OWNER, 'fm-a', to, 'r-cut')).status).toBe(201);
    await waitFor(async () => (s = await stats(OWNER)).replication.failures1m >= 1, 'the failed copy counted', 15_000, 200);
    expect(value(await metrics(OWNER), 'meridian_replication_failures_total')).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it(`${LOST} is taken over by ${OWNER}: every node counts that takeover once, /stats names it, and the dashboard marks ${LOST} written by ${OWNER}`, async () => {
    const survivors = d.topology.regions.map((r) => r.name).filter((r) => r !== LOST);
    const pair = { home_region: LOST, owner_region: OWNER };
    await waitFor(async () => {
      for (const r of survivors) if (value(await metrics(r), 'meridian_failover_takeovers_total', pair) !== 1) return false;
      return true;
    }, `every survivor to know ${OWNER} took ${LOST} over`, 20_000, 200);
    const owner = await stats(OWNER);
    expect(owner.takeovers.writesFor).toEqual([LOST]);
    expect(owner.takeovers.known).toContainEqual({ home: LOST, owner: OWNER });
    expect(owner.takeovers.count).toBe(owner.takeovers.known.length);
    const other = survivors.find((r) => r !== OWNER)!;
    const elsewhere = await stats(other);
    expect(elsewhere.takeovers.known).toContainEqual({ home: LOST, owner: OWNER });
    expect(elsewhere.takeovers.writesFor).not.toContain(LOST);
    // The edge reads the survivors' /stats: LOST itself is down and reports nothing.
    const writers = writersOf([null, parseNodeStats(owner), parseNodeStats(elsewhere)]);
    expect(writers.get(LOST)).toBe(OWNER);
    expect(writers.has(OWNER)).toBe(false);
    // Only pairs that happened move: the opposite direction stays at 0.
    expect(value(await metrics(OWNER), 'meridian_failover_takeovers_total', { home_region: OWNER, owner_region: LOST })).toBe(0);

    // Back, the old home finds itself fenced: it counts the same takeover, once, and writes for nobody.
    d.network!.revive(LOST);
    await waitFor(async () => value(await metrics(LOST), 'meridian_failover_takeovers_total', pair) === 1, `${LOST} to learn it was taken over`, 20_000, 200);
    const back = await stats(LOST);
    expect(back.takeovers.writesFor).toEqual([]);
    expect(back.takeovers.known).toContainEqual({ home: LOST, owner: OWNER });
    for (const r of survivors) expect(value(await metrics(r), 'meridian_failover_takeovers_total', pair)).toBe(1);
    if (promtoolMissing === undefined) expect(promtoolCheck(await metrics(OWNER))).toEqual({ code: 0, output: '' });
  }, 60_000);
});
