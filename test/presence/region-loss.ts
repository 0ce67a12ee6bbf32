/**
 * Losing a region, each in turn (the topology's first one included): presence has no special
 * region. Shared by the embedded bus (region-loss-embedded.test.ts) and a NATS super-cluster
 * (region-loss-nats.test.ts), each providing nodes and a way to take a region down and back.
 *
 * One node per region. While region X is down:
 * - the survivors keep their own users right and exchange changes (a connect one way, a
 *   disconnect the other way) as usual;
 * - X's users are not shown offline at ttl, but only after the grace on top (they could be
 *   reconnecting elsewhere), and one of them who reconnects to a survivor meanwhile simply stays
 *   online there, without an offline event;
 * - X's node, hearing no bucket at all, freezes: it drops nobody.
 * When X is back every view converges on the same state.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KvPresence, Presence, PresenceOptions, PresenceState } from '../../src/presence/mod.js';
import type { PresenceNode } from './helpers.js';
import { fresh, record, sleep, waitFor } from './helpers.js';

export interface RegionLossEnv {
  /** Start a node in `region` with the setup's options; the suite closes it after each test. */
  node(region: string, name: string): Promise<PresenceNode>;
  /** Take the region down (servers gone, links dead), keeping its node's process running. */
  kill(region: string): Promise<void>;
  revive(region: string): Promise<void>;
  close(): Promise<void>;
}

export interface RegionLossSetup {
  readonly name: string;
  /** The topology's regions, in its order. */
  readonly regions: readonly string[];
  /** The grace should exceed two beats (2/3 ttl), so that dropping at ttl and at ttl + grace differ. */
  readonly options: Required<Pick<PresenceOptions, 'graceMs' | 'ttlMs'>> & PresenceOptions;
  /** How long a region's return may take to show everywhere (restart, reconnect, replay). */
  readonly convergeMs: number;
  readonly testTimeoutMs: number;
  create(): Promise<RegionLossEnv>;
}

const online = async (p: Presence, user: string): Promise<boolean> => (await p.user(user)).online;
const state = (user: string, region: string): PresenceState => ({ user, online: true, regions: [region], connections: 1 });

export function regionLossTests(setup: RegionLossSetup): void {
  describe(`presence when a region is lost (${setup.name})`, () => {
    let env: RegionLossEnv | undefined;
    const started: PresenceNode[] = [];
    const down = new Set<string>();
    beforeAll(async () => {
      env = await setup.create();
    }, 60_000);
    afterEach(async () => {
      for (const r of down) await env!.revive(r);
      down.clear();
      await Promise.all(started.splice(0).map((n) => n.close()));
    }, 60_000);
    afterAll(async () => {
      await env?.close();
    }, 60_000);

    const node = async (region: string): Promise<PresenceNode> => {
      const n = await env!.node(region, fresh(region));
      started.push(n);
      return n;
    };

    for (const [i, lost] of setup.regions.entries()) {
      const label = i === 0 ? `${lost}, the topology's first region` : lost;
      it(`losing ${label}: survivors go on, its users stay for the grace beyond the ttl, all converge on its return`, () => lose(lost), setup.testTimeoutMs);
    }

    async function lose(lost: string): Promise<void> {
      const { ttlMs, graceMs } = setup.options;
      const beatMs = ttlMs / 3;
      const [r1, r2] = setup.regions.filter((r) => r !== lost) as [string, string];
      const [x, s1, s2] = await Promise.all([node(lost), node(r1), node(r2)]);
      const survivors = [s1, s2];
      const [recX, rec1, rec2] = [x, s1, s2].map((n) => record(n.presence)) as [ReturnType<typeof record>, ReturnType<typeof record>, ReturnType<typeof record>];
      const [xena, xavier, sam, sue, dave] = ['xena', 'xavier', 'sam', 'sue', 'dave'].map(fresh) as [string, string, string, string, string];
      const room = fresh('room');
      x.presence.connect(xena, 'x1');
      x.presence.join(room, xena, 'x1');
      x.presence.connect(xavier, 'x2');
      s1.presence.connect(sam, 's1');
      s2.presence.connect(sue, 's2');
      for (const n of [x, s1, s2]) {
        await waitFor(`everyone seen in ${n.region}`, async () => {
          const all = await Promise.all([xena, xavier, sam, sue].map((u) => online(n.presence, u)));
          return all.every(Boolean) && (await n.presence.room(room)).members.length === 1;
        });
      }

      const killed = Date.now();
      await env!.kill(lost);
      down.add(lost);
      // xavier's client reconnects to a survivor; the dead region's node sees its socket go.
      x.presence.disconnect(xavier, 'x2');
      s1.presence.connect(xavier, 'x3');
      // Changes between the survivors flow as usual, both ways.
      s1.presence.connect(dave, 'd');
      s2.presence.disconnect(sue, 's2');
      await waitFor(`dave seen in ${r2}`, () => online(s2.presence, dave));

      // Past the ttl (plus a link's latency): dropped by now if the grace were not added.
      await sleep(Math.max(0, killed + ttlMs + beatMs / 2 - Date.now()));
      for (const n of survivors) expect(await n.presence.user(xena), `xena in ${n.region} at ttl`).toMatchObject({ online: true, regions: [lost] });
      for (const n of survivors) await waitFor(`xena dropped in ${n.region}`, async () => !(await online(n.presence, xena)), ttlMs + graceMs + 5000);
      await waitFor(`sue gone in ${r1}`, async () => !(await online(s1.presence, sue)), graceMs + 5000);
      const took = [rec1, rec2].map((r) => r.of('offline', xena)[0]!.at - killed);
      console.log(`[presence] ${setup.name}: ${lost} down, its users dropped after ${took.join(', ')} ms (ttl ${ttlMs}, grace ${graceMs})`);
      // The last beat came at most a beat before the kill; allow one more for a late timer.
      for (const t of took) expect(t).toBeGreaterThanOrEqual(ttlMs - 2 * beatMs + graceMs);
      for (const r of [rec1, rec2]) {
        expect(r.of('offline', xena).map((c) => c.region)).toEqual([lost]);
        expect(r.of('leave', xena, room)).toHaveLength(1);
        expect(r.of('offline', xavier)).toEqual([]);
        expect(r.of('offline', sam)).toEqual([]);
      }
      for (const n of survivors) {
        expect(await n.presence.user(xavier)).toEqual(state(xavier, r1));
        expect(await n.presence.user(dave)).toEqual(state(dave, r1));
        expect(await n.presence.user(sam)).toEqual(state(sam, r1));
        expect(await n.presence.user(sue)).toMatchObject({ online: false });
        expect(await n.presence.room(room)).toEqual({ room, members: [], truncated: false });
      }
      // The lost region's own view hears nothing, not even its own bucket: frozen.
      expect((x.presence as KvPresence).stats()).toMatchObject({ stale: true });
      expect(await x.presence.user(sam)).toMatchObject({ online: true });
      expect(await x.presence.user(xena)).toEqual(state(xena, lost));
      expect(recX.of('offline', sam)).toEqual([]);

      const revived = Date.now();
      await env!.revive(lost);
      down.delete(lost);
      for (const n of survivors) {
        await waitFor(`xena back in ${n.region}`, async () => (await online(n.presence, xena)) && (await n.presence.room(room)).members.length === 1, setup.convergeMs);
      }
      await waitFor(`${lost} caught up`, async () => (await online(x.presence, dave)) && !(await online(x.presence, sue)) && (await x.presence.user(xavier)).regions.join() === r1, setup.convergeMs);
      console.log(`[presence] ${setup.name}: ${lost} back, views converged after ${Date.now() - revived} ms`);
      // Settled: a further ttl changes nothing, and every view says the same.
      await sleep(ttlMs);
      for (const n of [x, s1, s2]) {
        expect(await n.presence.user(xena), `xena in ${n.region}`).toEqual(state(xena, lost));
        expect(await n.presence.user(xavier), `xavier in ${n.region}`).toEqual(state(xavier, r1));
        expect(await n.presence.user(dave), `dave in ${n.region}`).toEqual(state(dave, r1));
        expect(await n.presence.user(sam), `sam in ${n.region}`).toEqual(state(sam, r1));
        expect(await n.presence.user(sue), `sue in ${n.region}`).toMatchObject({ online: false, regions: [], connections: 0 });
        expect((await n.presence.room(room)).members.map((m) => m.user)).toEqual([xena]);
      }
      for (const r of [rec1, rec2]) {
        expect(r.of('online', xena)).toHaveLength(2);
        expect(r.of('offline', xena)).toHaveLength(1);
        expect(r.of('offline', xavier)).toEqual([]);
      }
      expect(recX.of('offline', sam)).toEqual([]);
      expect(recX.of('offline', sue)).toHaveLength(1);
    }
  });
}
