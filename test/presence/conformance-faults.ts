/**
 * Conformance, the failure part: a node that dies without closing, withdrawal on close, invalid
 * input, use after close, and a rough measurement of how fast views converge.
 */
import { expect } from 'vitest';
import { ErrorCode } from '../../src/errors/mod.js';
import type { Presence } from '../../src/presence/mod.js';
import type { PresenceSuite } from './helpers.js';
import { expectFails, fresh, record, waitFor } from './helpers.js';

const online = async (p: Presence, user: string): Promise<boolean> => (await p.user(user)).online;

export function faultTests(s: PresenceSuite): void {
  s.test('a node that dies without close goes offline everywhere within the ttl', async () => {
    const { env } = s;
    const [r0, r1, r2] = env.regions as [string, string, string];
    // The dying node is alone in r2: its region's bucket stays up, only the node goes silent.
    const [a, b, c] = await Promise.all([env.node(r0, fresh('a')), env.node(r1, fresh('b')), env.node(r2, fresh('dies'))]);
    const survivors = [a, b];
    const recs = survivors.map((n) => record(n.presence));
    const alice = fresh('alice');
    const room = fresh('room');
    c.presence.connect(alice, 's1');
    c.presence.join(room, alice, 's1');
    for (const n of survivors) await waitFor(`online in ${n.region}`, async () => (await n.presence.room(room)).members.length === 1);
    const died = Date.now();
    await c.crash();
    for (const n of survivors) await waitFor(`offline in ${n.region}`, async () => !(await online(n.presence, alice)), s.opts.ttlMs * 3 + 5000);
    await waitFor('leave events', () => recs.every((r) => r.of('leave', alice, room).length === 1));
    const took = recs.map((r) => r.of('offline', alice)[0]!.at - died);
    console.log(`[presence] dead node noticed after ${took.join(', ')} ms (ttl ${s.opts.ttlMs} ms)`);
    // At most ttl after the last beat, which came at most ttl/3 before the crash; slack for timers.
    for (const t of took) expect(t).toBeLessThanOrEqual(s.opts.ttlMs + 1000);
    for (const r of recs) expect(r.of('offline', alice).map((ch) => ch.region)).toEqual([r2]);
    for (const n of survivors) expect(await n.presence.room(room)).toEqual({ room, members: [], truncated: false });
  });

  s.test('close() withdraws the node at once, without waiting for the ttl', async () => {
    const { env } = s;
    const [r0, r1] = env.regions as [string, string];
    const [a, b] = await Promise.all([env.node(r0, fresh('a')), env.node(r1, fresh('b'))]);
    const rec = record(a.presence);
    const alice = fresh('alice');
    const room = fresh('room');
    b.presence.connect(alice, 's1');
    b.presence.join(room, alice, 's1');
    await waitFor('seen far away', async () => (await a.presence.room(room)).members.length === 1);
    const closed = Date.now();
    await b.presence.close();
    await waitFor('withdrawn', async () => !(await online(a.presence, alice)), s.opts.ttlMs * 3);
    const took = Date.now() - closed;
    console.log(`[presence] close() withdrawal seen after ${took} ms (ttl ${s.opts.ttlMs} ms)`);
    // Expiry could not happen before 2/3 ttl: this is the withdrawal.
    expect(took).toBeLessThan(s.opts.ttlMs / 2);
    await waitFor('one leave', () => rec.of('leave', alice, room).length === 1);
    expect(rec.of('offline', alice)).toHaveLength(1);
    await b.presence.close(); // idempotent
  });

  s.test('invalid ids and options are refused with PRESENCE_INVALID', async () => {
    const { env } = s;
    const [r0] = env.regions as [string];
    const p = (await env.node(r0, fresh('a'))).presence;
    const bad: unknown[] = ['', ' lead', 'trail ', 'nul\u0000', 'x'.repeat(121), '\uD800', 42, undefined];
    for (const id of bad) {
      const u = id as string;
      await expectFails(() => p.connect(u, 's'), ErrorCode.PresenceInvalid);
      await expectFails(() => p.disconnect(u, 's'), ErrorCode.PresenceInvalid);
      await expectFails(() => p.join(u, 'ok', 's'), ErrorCode.PresenceInvalid);
      await expectFails(() => p.join('ok', u, 's'), ErrorCode.PresenceInvalid);
      await expectFails(() => p.leave(u, 'ok', 's'), ErrorCode.PresenceInvalid);
      await expectFails(() => p.user(u), ErrorCode.PresenceInvalid);
      await expectFails(() => p.room(u), ErrorCode.PresenceInvalid);
    }
    for (const session of ['', 7, undefined]) {
      await expectFails(() => p.connect('ok', session as string), ErrorCode.PresenceInvalid);
      await expectFails(() => p.join('room', 'ok', session as string), ErrorCode.PresenceInvalid);
    }
    for (const limit of [0, -1, 1.5, 10_001, Number.NaN]) await expectFails(() => p.room('room', { limit }), ErrorCode.PresenceInvalid);
    // Nothing of the refused calls was recorded.
    expect(await p.user('ok')).toEqual({ user: 'ok', online: false, regions: [], connections: 0 });
    await expectFails(() => env.node(r0, ''), ErrorCode.PresenceInvalid);
    await expectFails(() => env.node(r0, fresh('n'), { ttlMs: -1 }), ErrorCode.PresenceInvalid);
    await expectFails(() => env.node(r0, fresh('n'), { graceMs: Number.NaN }), ErrorCode.PresenceInvalid);
  });

  s.test('after close reads, reports and watches fail with PRESENCE_CLOSED; withdrawals do nothing', async () => {
    const { env } = s;
    const [r0] = env.regions as [string];
    const p = (await env.node(r0, fresh('a'))).presence;
    p.connect('alice', 's1');
    await p.close();
    await p.close();
    await expectFails(() => p.connect('alice', 's2'), ErrorCode.PresenceClosed);
    await expectFails(() => p.join('r', 'alice', 's1'), ErrorCode.PresenceClosed);
    // Session clean-up after a shutdown closed presence first: nothing left to withdraw.
    expect(() => p.disconnect('alice', 's1')).not.toThrow();
    expect(() => p.leave('r', 'alice', 's1')).not.toThrow();
    await expectFails(() => p.user('alice'), ErrorCode.PresenceClosed);
    await expectFails(() => p.room('r'), ErrorCode.PresenceClosed);
    await expectFails(() => p.watch(() => {}), ErrorCode.PresenceClosed);
  });

  s.test('convergence time is measured against the link latency (printed, not asserted)', async () => {
    const { env } = s;
    const nodes = await Promise.all(env.regions.map((r) => env.node(r, fresh('n'))));
    const recs = nodes.map((n) => record(n.presence));
    const rounds = 5;
    const rows: string[] = [];
    for (const [i, from] of nodes.entries()) {
      const samples = new Map<string, number[]>();
      for (let k = 0; k < rounds; k++) {
        const u = fresh('m');
        const t0 = Date.now();
        from.presence.connect(u, 's');
        await waitFor('seen everywhere', () => recs.every((r) => r.of('online', u).length === 1));
        for (const [j, r] of recs.entries()) {
          if (j === i) continue;
          const to = nodes[j]!.region;
          const list = samples.get(to) ?? [];
          list.push(r.of('online', u)[0]!.at - t0);
          samples.set(to, list);
        }
        from.presence.disconnect(u, 's');
      }
      for (const [to, list] of samples) {
        list.sort((x, y) => x - y);
        // The writer's bucket is in its own region: one link, one way, from write to every view.
        rows.push(`${from.region}→${to}: median ${list[Math.floor(list.length / 2)]} ms, max ${list.at(-1)} ms (one-way link ${env.linkLatencyMs(from.region, to)} ms)`);
      }
    }
    console.log(`[presence] convergence (flushDelayMs ${s.opts.flushDelayMs ?? 20}):\n  ${rows.join('\n  ')}`);
    expect(rows).toHaveLength(6);
  }, 60_000);
}
