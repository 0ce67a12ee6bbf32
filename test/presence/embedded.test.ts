/**
 * Presence on the embedded bus: the conformance suite over three simulated regions, plus what is
 * easier to pin down in one process: cost with 10 000 sessions on one node (writes counted on the
 * real bucket), a cut link and a region outage, a node restarted under the same name, the bucket
 * max age, and a start while another region is down. Losing each region in turn is in
 * region-loss-embedded.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import type { Bus, Kv } from '../../src/bus/types.js';
import { ErrorCode } from '../../src/errors/mod.js';
import { openKv, placed } from '../../src/placement/mod.js';
import { createPresence } from '../../src/presence/mod.js';
import type { KvPresence, KvPresenceOptions, Presence } from '../../src/presence/mod.js';
import { latencyMs } from '../bus/nats-env.js';
import { runPresenceConformance } from './conformance.js';
import type { PresenceEnv, PresenceFactory, PresenceNode } from './conformance.js';
import { expectFails, fresh, record, sleep, waitFor } from './helpers.js';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
const [US, EU, AP] = REGIONS;
/** A region's presence bucket, opened from `from` (the tests read and tamper with it). */
const bucketOf = (net: EmbeddedNetwork, region: string, from = region): Promise<Kv> => openKv(net.connect(from), placed.presence(region));
const PLACES = REGIONS.map((name, i) => ({ name, lat: i * 10, lon: i * 10 }));
const OPTIONS = { graceMs: 300, ttlMs: 900, flushDelayMs: 10 };

async function startNode(net: EmbeddedNetwork, region: string, name: string, opts: Partial<KvPresenceOptions> & { bus?: Bus } = {}): Promise<PresenceNode> {
  const bus = opts.bus ?? net.connect(region);
  let presence: Presence;
  try {
    presence = await createPresence(bus, { ...OPTIONS, ...opts, node: name, regions: REGIONS });
  } catch (err) {
    await bus.close();
    throw err;
  }
  return {
    region,
    presence,
    crash: () => bus.close(),
    close: async () => {
      await presence.close();
      await bus.close();
    },
  };
}

const factory: PresenceFactory = {
  name: 'embedded',
  options: OPTIONS,
  create(): Promise<PresenceEnv> {
    const net = new EmbeddedNetwork(PLACES, { latencyMs });
    return Promise.resolve({
      regions: REGIONS,
      linkLatencyMs: (a, b) => net.linkLatencyMs(a, b),
      node: (region, name, opts) => startNode(net, region, name, opts),
      close: () => net.close(),
    });
  },
};

runPresenceConformance(factory);

/** A bus whose KV handles count the writes they pass on to the real bucket. */
function countingBus(bus: Bus): { bus: Bus; writes: { put: number; delete: number; update: number } } {
  const writes = { put: 0, delete: 0, update: 0 };
  const wrapKv = (kv: Kv): Kv => ({
    bucket: kv.bucket,
    get: (k) => kv.get(k),
    put: (k, v) => (writes.put++, kv.put(k, v)),
    create: (k, v) => kv.create(k, v),
    update: (k, v, r) => (writes.update++, kv.update(k, v, r)),
    delete: (k) => (writes.delete++, kv.delete(k)),
    keys: (p) => kv.keys(p),
    watch: (o) => kv.watch(o),
  });
  const wrapped: Bus = {
    region: bus.region,
    maxPayload: bus.maxPayload,
    publish: (s, d, o) => bus.publish(s, d, o),
    subscribe: (s, h, o) => bus.subscribe(s, h, o),
    request: (s, d, o) => bus.request(s, d, o),
    kv: async (b, o) => wrapKv(await bus.kv(b, o)),
    flush: () => bus.flush(),
    status: () => bus.status(),
    close: () => bus.close(),
  };
  return { bus: wrapped, writes };
}

const online = async (p: Presence, user: string): Promise<boolean> => (await p.user(user)).online;
const decoder = new TextDecoder();

describe('presence on the embedded bus', () => {
  let net: EmbeddedNetwork | undefined;
  const nodes: PresenceNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await net?.close();
    net = undefined;
  });
  const network = (): EmbeddedNetwork => (net ??= new EmbeddedNetwork(PLACES, { latencyMs }));
  const node = async (region: string, name = fresh('n'), opts: Parameters<typeof startNode>[3] = {}): Promise<PresenceNode> => {
    const n = await startNode(network(), region, name, opts);
    nodes.push(n);
    return n;
  };

  it('10 000 sessions on one node cost one write per user and room, not per session', async () => {
    const { bus, writes } = countingBus(network().connect(US));
    const big = await node(US, fresh('big'), { bus, graceMs: 200, ttlMs: 3000 });
    const obs = await node(AP, fresh('obs'), { ttlMs: 3000 });
    const users = 1000;
    const perUser = 10;
    const before = { ...writes };
    const t0 = performance.now();
    for (let u = 0; u < users; u++) {
      for (let k = 0; k < perUser; k++) {
        big.presence.connect(`user-${u}`, `s-${u}-${k}`);
        big.presence.join(`room-${u % 10}`, `user-${u}`, `s-${u}-${k}`);
      }
    }
    const callMs = performance.now() - t0;
    await waitFor('every user seen far away', async () => (await obs.presence.room('room-9', { limit: 1000 })).members.length === 100 && (await obs.presence.user(`user-${users - 1}`)).connections === perUser, 20_000);
    const seenMs = performance.now() - t0;
    const puts = writes.put - before.put;
    // One record per user and one per (room, user); liveness beats add a few.
    expect(puts).toBeGreaterThanOrEqual(2 * users);
    expect(puts).toBeLessThan(2 * users + 20);
    const state = await obs.presence.user('user-7');
    expect(state).toEqual({ user: 'user-7', online: true, regions: [US], connections: perUser });
    const t1 = performance.now();
    for (let u = 0; u < users; u++) for (let k = 0; k < perUser; k++) big.presence.disconnect(`user-${u}`, `s-${u}-${k}`);
    await waitFor('every user gone far away', async () => !(await online(obs.presence, `user-${users - 1}`)) && (await obs.presence.room('room-0')).members.length === 0, 20_000);
    const goneMs = performance.now() - t1;
    // Each key: one write of "0 sessions" (the grace) and one delete.
    expect(writes.put - before.put - puts).toBeLessThan(2 * users + 20);
    expect(writes.delete - before.delete).toBe(2 * users);
    console.log(`[presence] 10 000 sessions (1 000 users, 10 rooms): ${Math.round(callMs)} ms of calls, seen in ${AP} after ${Math.round(seenMs)} ms, ${puts} puts; all gone after ${Math.round(goneMs)} ms (grace 200 ms), ${writes.delete - before.delete} deletes`);
  }, 60_000);

  it('events are delivered after the call returns, and a throwing handler does not stop the others', async () => {
    const errors: unknown[] = [];
    const a = await node(US, fresh('a'), { onError: (e) => errors.push(e) });
    const seen: string[] = [];
    a.presence.watch(() => {
      throw new Error('handler bug');
    });
    const stop = a.presence.watch((c) => seen.push(`${c.kind}:${c.user}`));
    a.presence.connect('alice', 's1');
    expect(seen).toEqual([]);
    expect(await a.presence.user('alice')).toMatchObject({ online: true, connections: 1 });
    await waitFor('the event', () => seen.length === 1);
    expect(seen).toEqual(['online:alice']);
    expect(errors.some((e) => e instanceof Error && e.message === 'handler bug')).toBe(true);
    stop();
    a.presence.disconnect('alice', 's1');
    await waitFor('offline', async () => !(await online(a.presence, 'alice')));
    expect(seen).toEqual(['online:alice']);
  });

  it('a cut link: each side drops the other\'s users after ttl + grace, a region hearing both keeps everyone, and all converge when it heals', async () => {
    const a = await node(US);
    const b = await node(EU);
    const c = await node(AP);
    const [recA, recB, recC] = [record(a.presence), record(b.presence), record(c.presence)];
    const [alice, carol, dave] = [fresh('alice'), fresh('carol'), fresh('dave')];
    a.presence.connect(alice, 's');
    c.presence.connect(carol, 's');
    for (const n of [a, b, c]) await waitFor('both online', async () => (await online(n.presence, alice)) && (await online(n.presence, carol)));
    network().cut(AP, US);
    const cut = Date.now();
    await waitFor('carol dropped in us-east', async () => !(await online(a.presence, carol)), OPTIONS.ttlMs * 3 + OPTIONS.graceMs);
    await waitFor('alice dropped in ap-southeast', async () => !(await online(c.presence, alice)), OPTIONS.ttlMs * 3 + OPTIONS.graceMs);
    // A region whose bucket is silent gets the grace on top of the ttl (its last beat came at
    // most a beat before the cut; one more allowed for a late timer).
    for (const t of [recA.of('offline', carol)[0]!.at, recC.of('offline', alice)[0]!.at]) expect(t - cut).toBeGreaterThanOrEqual(OPTIONS.ttlMs / 3 + OPTIONS.graceMs);
    // A change on one side still reaches the region that hears it; each side hears its own bucket.
    c.presence.connect(dave, 's');
    await waitFor('dave seen in eu-west', () => online(b.presence, dave));
    expect(await b.presence.user(alice)).toMatchObject({ online: true, regions: [US] });
    expect(await b.presence.user(carol)).toMatchObject({ online: true, regions: [AP] });
    expect(recB.changes.filter((ch) => ch.kind === 'offline')).toEqual([]);
    expect((c.presence as KvPresence).stats()).toMatchObject({ stale: false, outage: false, unheard: [US] });
    network().restore(AP, US);
    await waitFor('carol and dave back in us-east', async () => (await online(a.presence, carol)) && (await online(a.presence, dave)), OPTIONS.ttlMs * 3);
    await waitFor('alice back in ap-southeast', () => online(c.presence, alice), OPTIONS.ttlMs * 3);
    await sleep(OPTIONS.ttlMs * 2);
    for (const n of [a, b, c]) {
      expect(await n.presence.user(alice)).toEqual({ user: alice, online: true, regions: [US], connections: 1 });
      expect(await n.presence.user(carol)).toEqual({ user: carol, online: true, regions: [AP], connections: 1 });
    }
    expect(recA.of('offline', carol)).toHaveLength(1);
    expect(recC.of('offline', alice)).toHaveLength(1);
    expect(recB.changes.filter((ch) => ch.kind === 'offline')).toEqual([]);
  });

  it('a region that goes down and comes back re-sends its state', async () => {
    const a = await node(US);
    const c = await node(AP);
    const carol = fresh('carol');
    c.presence.connect(carol, 's');
    c.presence.join('lobby', carol, 's');
    await waitFor('carol seen', () => online(a.presence, carol));
    // Every write acknowledged: what comes back after the outage is the re-send, not a retry.
    await (c.presence as KvPresence).flushed();
    await sleep(100);
    network().kill(AP);
    await waitFor('carol dropped', async () => !(await online(a.presence, carol)), OPTIONS.ttlMs * 3 + OPTIONS.graceMs);
    // A change made while its region is down waits for it (the node's view has it at once).
    c.presence.join('attic', carol, 's');
    expect((await c.presence.room('attic')).members).toHaveLength(1);
    await sleep(OPTIONS.ttlMs * 2);
    expect((await a.presence.room('attic')).members).toHaveLength(0);
    network().revive(AP);
    await waitFor('carol back', async () => (await online(a.presence, carol)) && (await a.presence.room('lobby')).members.length === 1, OPTIONS.ttlMs * 3);
    await waitFor('the queued join arrives', async () => (await a.presence.room('attic')).members.length === 1);
    await sleep(OPTIONS.ttlMs * 2);
    expect(await a.presence.user(carol)).toEqual({ user: carol, online: true, regions: [AP], connections: 1 });
  });

  it('a node restarted under the same name does not bring back the sessions of its previous run', async () => {
    const obs = await node(EU);
    const rec = record(obs.presence);
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const name = fresh('n1');
    const kv = await bucketOf(network(), US);
    const keyOf = async (user: string): Promise<string> => (await kv.keys('u.>')).find((k) => k.startsWith(`u.${user}.`))!;

    // Restarted at once: the new run's first beat ends the old epoch, no need to wait for the ttl.
    const first = await node(US, name);
    first.presence.connect(alice, 's');
    await waitFor('alice seen', () => online(obs.presence, alice));
    await first.crash();
    const restarted = Date.now();
    const second = await node(US, name);
    await waitFor('the old run dropped', async () => !(await online(obs.presence, alice)));
    expect(Date.now() - restarted).toBeLessThan(OPTIONS.ttlMs / 2);
    expect(await second.presence.user(alice)).toMatchObject({ online: false });
    // The new run collected the old record (a compare-and-set tombstone).
    const aliceKey = await keyOf(alice);
    await waitFor('the old record tombstoned', async () => decoder.decode((await kv.get(aliceKey))!.value).includes('"gone"'));

    // Restarted after the old run expired everywhere: its records must not flash back online.
    second.presence.connect(bob, 's');
    await waitFor('bob seen', () => online(obs.presence, bob));
    await second.crash();
    await waitFor('bob expired', async () => !(await online(obs.presence, bob)), OPTIONS.ttlMs * 3);
    const third = await node(US, name);
    await sleep(200);
    expect(rec.of('online', bob)).toHaveLength(1);
    expect(rec.of('offline', bob)).toHaveLength(1);
    const bobKey = await keyOf(bob);
    await waitFor('the old record tombstoned', async () => decoder.decode((await kv.get(bobKey))!.value).includes('"gone"'));
    third.presence.connect(alice, 's2');
    await waitFor('alice back through the new run', () => online(obs.presence, alice));
  });

  it('records outlive the bucket max age while their sessions last', async () => {
    const ttl = { ttlMs: 300, keyTtlMs: 900 };
    const a = await node(US, fresh('a'), ttl);
    const alice = fresh('alice');
    a.presence.connect(alice, 's');
    await sleep(2500);
    // A node started now reads the bucket afresh: the record must still be there.
    const late = await node(EU, fresh('late'), ttl);
    await waitFor('alice seen by a late node', () => online(late.presence, alice), 2000);
    expect(await late.presence.user(alice)).toEqual({ user: alice, online: true, regions: [US], connections: 1 });
  });

  it('a node starts while another region is down, is seen at once by the live ones, and by that region once it is back', async () => {
    network().kill(US);
    const c = await node(AP);
    const t0 = Date.now();
    const b = await node(EU, fresh('b'), { startTimeoutMs: 3000 });
    // Its own bucket answers: the region that is down does not hold the start up.
    expect(Date.now() - t0).toBeLessThan(1000);
    const alice = fresh('alice');
    b.presence.connect(alice, 's');
    expect(await b.presence.user(alice)).toMatchObject({ online: true, regions: [EU] });
    await waitFor('alice seen in ap-southeast while us-east is down', () => online(c.presence, alice), 2000);
    network().revive(US);
    const a = await node(US);
    await waitFor('alice seen in us-east once it is back', () => online(a.presence, alice), 5000);
    // The late feed of us-east's bucket is followed too: a user there reaches the others.
    const ulla = fresh('ulla');
    a.presence.connect(ulla, 's');
    for (const n of [b, c]) await waitFor(`ulla seen in ${n.region}`, () => online(n.presence, ulla), 5000);
  });

  it('a dead node is collected by the live nodes of its own region only', async () => {
    const a = await node(US);
    const dies = await node(EU);
    const alice = fresh('alice');
    dies.presence.connect(alice, 's');
    await waitFor('alice seen', () => online(a.presence, alice));
    await dies.crash();
    await waitFor('alice dropped', async () => !(await online(a.presence, alice)), OPTIONS.ttlMs * 3);
    const kv = await bucketOf(network(), EU, AP);
    const key = (await kv.keys('u.>')).find((k) => k.startsWith(`u.${alice}.`))!;
    // Nobody of eu-west is alive: nobody else writes its bucket, the record stays (not counted).
    await sleep(OPTIONS.ttlMs * 4);
    expect(decoder.decode((await kv.get(key))!.value)).not.toContain('"gone"');
    expect((a.presence as KvPresence).stats()).toMatchObject({ uncounted: 1 });
    // A node starting in eu-west collects it.
    await node(EU);
    await waitFor('tombstoned', async () => decoder.decode((await kv.get(key))!.value).includes('"gone"'), OPTIONS.ttlMs * 4);
    await waitFor('forgotten in us-east', () => (a.presence as KvPresence).stats().uncounted === 0);
  });

  it('a live node writes its keys again when someone else removed them', async () => {
    const a = await node(US);
    const obs = await node(AP);
    const alice = fresh('alice');
    a.presence.connect(alice, 's');
    await waitFor('alice seen', () => online(obs.presence, alice));
    await (a.presence as KvPresence).flushed();
    // A collector that misjudged the node: tombstones its record, then its liveness key.
    const kv = await bucketOf(network(), US, EU);
    const tomb = new TextEncoder().encode(JSON.stringify({ v: 1, gone: 'test' }));
    const userKey = (await kv.keys('u.>')).find((k) => k.startsWith(`u.${alice}.`))!;
    await kv.update(userKey, tomb, (await kv.get(userKey))!.revision);
    await waitFor('the record written again', async () => !decoder.decode((await kv.get(userKey))!.value).includes('"gone"'));
    const nodeKey = (await kv.keys('n.>')).find((k) => k.startsWith(`n.${US}.`))!;
    await kv.update(nodeKey, tomb, (await kv.get(nodeKey))!.revision);
    await waitFor('the liveness key written again', async () => !decoder.decode((await kv.get(nodeKey))!.value).includes('"gone"'));
    await waitFor('alice seen again', () => online(obs.presence, alice));
    await sleep(OPTIONS.ttlMs);
    expect(await obs.presence.user(alice)).toEqual({ user: alice, online: true, regions: [US], connections: 1 });
  });

  it('two processes reporting as one node are reported, and do not fight over the records', async () => {
    const errors: unknown[] = [];
    const { bus, writes } = countingBus(network().connect(US));
    const name = fresh('twin');
    const one = await node(US, name, { bus, onError: (e) => errors.push(e) });
    const two = await node(US, name, { onError: (e) => errors.push(e) });
    one.presence.connect('alice', 's1');
    two.presence.connect('alice', 's2');
    await waitFor('the conflict reported', () => errors.some((e) => e instanceof Error && e.message.includes('node ids must be unique')), 5000);
    await sleep(100);
    const before = writes.put;
    // A change while the other is idle: it would "correct" it, and so on, without the guard.
    one.presence.connect('alice', 's3');
    await sleep(1000);
    // Beats (every ttl/3) and at most a few corrections, not a storm.
    expect(writes.put - before).toBeLessThan(20);
  });

  it('refuses a bad list of regions', async () => {
    const bus = network().connect(US);
    for (const regions of [[], [''], [EU, AP], [US, US], 'us-east', undefined]) {
      await expectFails(() => createPresence(bus, { node: 'n', regions: regions as string[] }), ErrorCode.PresenceInvalid);
    }
    await bus.close();
  });
});
