/**
 * Conformance, the everyday part: state and events seen alike in every region, counting across
 * nodes and regions, the grace (no flap on reconnect), rooms.
 */
import { expect } from 'vitest';
import type { Presence } from '../../src/presence/mod.js';
import type { PresenceSuite } from './helpers.js';
import { fresh, record, sleep, waitFor } from './helpers.js';

const online = async (p: Presence, user: string): Promise<boolean> => (await p.user(user)).online;

export function basicTests(s: PresenceSuite): void {
  s.test('a connect in one region is seen in every region, as state and as one online event', async () => {
    const { env } = s;
    const nodes = await Promise.all(env.regions.map((r) => env.node(r, fresh('n'))));
    const recs = nodes.map((n) => record(n.presence));
    const from = nodes[1]!;
    const alice = fresh('alice');
    const t0 = Date.now();
    from.presence.connect(alice, 's1');
    for (const n of nodes) {
      await waitFor(`${alice} online in ${n.region}`, () => online(n.presence, alice));
      expect(await n.presence.user(alice)).toEqual({ user: alice, online: true, regions: [from.region], connections: 1 });
    }
    await waitFor('an online event in every region', () => recs.every((r) => r.of('online', alice).length > 0));
    const lines: string[] = [];
    for (const [i, r] of recs.entries()) {
      expect(r.of('online', alice).map((c) => c.region)).toEqual([from.region]);
      const n = nodes[i]!;
      lines.push(`${n.region} ${r.of('online', alice)[0]!.at - t0} ms (link ${env.linkLatencyMs(from.region, n.region)} ms one way)`);
    }
    console.log(`[presence] connect in ${from.region} seen: ${lines.join(', ')}`);
    expect(await nodes[0]!.presence.user(fresh('nobody'))).toEqual({ user: expect.any(String) as string, online: false, regions: [], connections: 0 });
  });

  s.test('connections are counted across nodes and regions, each session once', async () => {
    const { env } = s;
    const [r0, r1, r2] = env.regions as [string, string, string];
    const [a1, a2, b, c] = await Promise.all([env.node(r0, fresh('a1')), env.node(r0, fresh('a2')), env.node(r1, fresh('b')), env.node(r2, fresh('c'))]);
    const all = [a1, a2, b, c];
    const alice = fresh('alice');
    a1.presence.connect(alice, 's1');
    a1.presence.connect(alice, 's2');
    a1.presence.connect(alice, 's2'); // idempotent
    a2.presence.connect(alice, 's3');
    b.presence.connect(alice, 's4');
    for (const n of all) {
      await waitFor(`4 connections in ${n.region}`, async () => (await n.presence.user(alice)).connections === 4);
      expect(await n.presence.user(alice)).toEqual({ user: alice, online: true, regions: [r0, r1].sort(), connections: 4 });
    }
    b.presence.disconnect(alice, 's4');
    b.presence.disconnect(alice, 's4'); // idempotent
    for (const n of all) await waitFor(`3 connections in ${n.region}`, async () => (await n.presence.user(alice)).connections === 3);
    // During the grace the region stays listed (with no session); after it, only r0 remains.
    for (const n of all) {
      await waitFor(`only ${r0} listed in ${n.region}`, async () => (await n.presence.user(alice)).regions.join() === r0, s.opts.graceMs + 5000);
      expect(await n.presence.user(alice)).toEqual({ user: alice, online: true, regions: [r0], connections: 3 });
    }
  });

  s.test('the last session gone anywhere gives one offline event everywhere, after the grace', async () => {
    const { env } = s;
    const [r0, r1, r2] = env.regions as [string, string, string];
    const [a, b, c] = await Promise.all([env.node(r0, fresh('a')), env.node(r1, fresh('b')), env.node(r2, fresh('c'))]);
    const nodes = [a, b, c];
    const recs = nodes.map((n) => record(n.presence));
    const alice = fresh('alice');
    a.presence.connect(alice, 's1');
    b.presence.connect(alice, 's2');
    for (const n of nodes) await waitFor(`2 connections in ${n.region}`, async () => (await n.presence.user(alice)).connections === 2);
    a.presence.disconnect(alice, 's1');
    await sleep(s.opts.graceMs / 2);
    b.presence.disconnect(alice, 's2');
    const last = Date.now();
    for (const n of nodes) await waitFor(`${alice} offline in ${n.region}`, async () => !(await online(n.presence, alice)), s.opts.graceMs + 10_000);
    await sleep(s.opts.graceMs);
    for (const [i, r] of recs.entries()) {
      expect(r.of('online', alice)).toHaveLength(1);
      const off = r.of('offline', alice);
      expect(off).toHaveLength(1);
      expect(off[0]!.at).toBeGreaterThanOrEqual(last + s.opts.graceMs - 5);
      const state = await nodes[i]!.presence.user(alice);
      expect(state).toMatchObject({ user: alice, online: false, regions: [], connections: 0 });
      expect(state.lastSeenAt).toBeGreaterThanOrEqual(last);
    }
  });

  s.test('a reconnect within the grace on the same node gives no offline/online flap', async () => {
    const { env } = s;
    const [r0, r1] = env.regions as [string, string];
    const [a, obs] = await Promise.all([env.node(r0, fresh('a')), env.node(r1, fresh('obs'))]);
    const recs = [record(a.presence), record(obs.presence)];
    const alice = fresh('alice');
    a.presence.connect(alice, 's1');
    await waitFor('online far away', () => online(obs.presence, alice));
    a.presence.disconnect(alice, 's1');
    await sleep(s.opts.graceMs / 3);
    a.presence.connect(alice, 's2');
    await sleep(s.opts.graceMs * 1.5 + 200);
    for (const r of recs) {
      expect(r.of('online', alice)).toHaveLength(1);
      expect(r.of('offline', alice)).toHaveLength(0);
    }
    expect(await obs.presence.user(alice)).toEqual({ user: alice, online: true, regions: [r0], connections: 1 });
  });

  s.test('a reconnect within the grace in another region gives no offline/online flap', async () => {
    const { env } = s;
    const [r0, r1, r2] = env.regions as [string, string, string];
    const [a, b, obs] = await Promise.all([env.node(r0, fresh('a')), env.node(r1, fresh('b')), env.node(r2, fresh('obs'))]);
    const nodes = [a, b, obs];
    const recs = nodes.map((n) => record(n.presence));
    const alice = fresh('alice');
    a.presence.connect(alice, 's1');
    for (const n of nodes) await waitFor(`online in ${n.region}`, () => online(n.presence, alice));
    a.presence.disconnect(alice, 's1');
    await sleep(s.opts.graceMs / 3);
    b.presence.connect(alice, 's2');
    await sleep(s.opts.graceMs * 1.5 + 200);
    for (const [i, r] of recs.entries()) {
      expect(r.of('online', alice).map((c) => c.region)).toEqual([r0]);
      expect(r.of('offline', alice)).toHaveLength(0);
      await waitFor(`only ${r1} in ${nodes[i]!.region}`, async () => (await nodes[i]!.presence.user(alice)).regions.join() === r1);
      expect(await nodes[i]!.presence.user(alice)).toEqual({ user: alice, online: true, regions: [r1], connections: 1 });
    }
  });

  s.test('room joins and leaves are seen everywhere; members are sorted, limited and truncated', async () => {
    const { env } = s;
    const [r0, r1, r2] = env.regions as [string, string, string];
    const [a, b, c] = await Promise.all([env.node(r0, fresh('a')), env.node(r1, fresh('b')), env.node(r2, fresh('c'))]);
    const nodes = [a, b, c];
    const recs = nodes.map((n) => record(n.presence));
    const room = fresh('room');
    const base = fresh('u');
    const [ua, ub, uc] = [`${base}-a`, `${base}-b`, `${base}-c`];
    // Joined in an order that is not the sorted one, from three regions.
    for (const [n, u] of [[a, uc], [b, ua], [c, ub]] as const) {
      n.presence.connect(u, 'w1');
      n.presence.join(room, u, 'w1');
    }
    // A second session of the same user in the same room is no second join.
    c.presence.connect(ub, 'w2');
    c.presence.join(room, ub, 'w2');
    for (const n of nodes) {
      await waitFor(`3 members in ${n.region}`, async () => (await n.presence.room(room)).members.length === 3);
      const full = await n.presence.room(room);
      expect(full.room).toBe(room);
      expect(full.truncated).toBe(false);
      expect(full.members.map((m) => m.user)).toEqual([ua, ub, uc]);
      expect(full.members.map((m) => m.connections)).toEqual([1, 2, 1]);
      expect(full.members.map((m) => m.regions)).toEqual([[r1], [r2], [r0]]);
      const cut = await n.presence.room(room, { limit: 2 });
      expect(cut.members.map((m) => m.user)).toEqual([ua, ub]);
      expect(cut.truncated).toBe(true);
      expect((await n.presence.room(room, { limit: 3 })).truncated).toBe(false);
      expect(await n.presence.room(fresh('empty'))).toEqual({ room: expect.any(String) as string, members: [], truncated: false });
    }
    await waitFor('3 join events everywhere', () => recs.every((r) => r.changes.filter((ch) => ch.kind === 'join').length === 3));
    for (const r of recs) {
      expect(r.of('join', ub, room)).toHaveLength(1);
      expect(r.of('join', uc, room).map((ch) => ch.region)).toEqual([r0]);
    }

    // ua leaves for good; ub leaves one session and re-joins with the other within the grace.
    const left = Date.now();
    b.presence.leave(room, ua, 'w1');
    c.presence.leave(room, ub, 'w1');
    c.presence.leave(room, ub, 'w2');
    await sleep(s.opts.graceMs / 3);
    c.presence.join(room, ub, 'w2');
    for (const n of nodes) await waitFor(`${ua} gone from the room in ${n.region}`, async () => (await n.presence.room(room)).members.length === 2, s.opts.graceMs + 10_000);
    await sleep(s.opts.graceMs);
    for (const [i, r] of recs.entries()) {
      const leaves = r.of('leave', ua, room);
      expect(leaves.map((ch) => ch.region)).toEqual([r1]);
      expect(leaves[0]!.at).toBeGreaterThanOrEqual(left + s.opts.graceMs - 5);
      expect(r.of('leave', ub, room)).toHaveLength(0);
      expect(r.of('join', ub, room)).toHaveLength(1);
      expect((await nodes[i]!.presence.room(room)).members.map((m) => m.user)).toEqual([ub, uc]);
      // Leaving a room is not going offline.
      expect(r.of('offline', ua)).toHaveLength(0);
    }
  });

  s.test('a disconnect ends the rooms its session joined', async () => {
    const { env } = s;
    const [r0, r1] = env.regions as [string, string];
    const [a, obs] = await Promise.all([env.node(r0, fresh('a')), env.node(r1, fresh('obs'))]);
    const rec = record(obs.presence);
    const [room1, room2] = [fresh('room'), fresh('room')];
    const bob = fresh('bob');
    a.presence.connect(bob, 's1');
    a.presence.join(room1, bob, 's1');
    a.presence.join(room2, bob, 's1');
    await waitFor('bob in both rooms far away', async () => (await obs.presence.room(room1)).members.length === 1 && (await obs.presence.room(room2)).members.length === 1);
    a.presence.disconnect(bob, 's1');
    await waitFor('bob gone', async () => !(await online(obs.presence, bob)), s.opts.graceMs + 10_000);
    await waitFor('both leave events', () => rec.of('leave', bob).length === 2);
    expect(await obs.presence.room(room1)).toEqual({ room: room1, members: [], truncated: false });
    expect(rec.of('offline', bob)).toHaveLength(1);
  });

  s.test('ids with dots, wildcards, spaces and emoji are carried intact', async () => {
    const { env } = s;
    const [r0, r1] = env.regions as [string, string];
    const [a, obs] = await Promise.all([env.node(r0, fresh('a')), env.node(r1, fresh('obs'))]);
    const user = `zoë.* >${fresh('')} 💬`;
    const room = `team.> =${fresh('')}`;
    a.presence.connect(user, 'sess.1 *');
    a.presence.join(room, user, 'sess.1 *');
    await waitFor('the odd ids far away', async () => (await obs.presence.room(room)).members.length === 1);
    expect(await obs.presence.room(room)).toEqual({ room, members: [{ user, online: true, regions: [r0], connections: 1 }], truncated: false });
  });
}
