/**
 * Presence on the embedded bus: the conformance suite over three simulated regions, plus what is
 * easier to pin down in one process: cost with 10 000 sessions on one node (writes counted on the
 * real bucket), partitions and region outages, a node restarted under the same name, the bucket
 * max age, and a start while the bucket's home is down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import type { Bus, Kv } from '../../src/bus/types.js';
import { ErrorCode } from '../../src/errors/mod.js';
import { createPresence } from '../../src/presence/mod.js';
import type { KvPresence, KvPresenceOptions, Presence } from '../../src/presence/mod.js';
import { latencyMs } from '../bus/nats-env.js';
import { runPresenceConformance } from './conformance.js';
import type { PresenceEnv, PresenceFactory, PresenceNode } from './conformance.js';
import { expectFails, fresh, record, sleep, waitFor } from './helpers.js';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
const [HOME, EU, AP] = REGIONS;
const PLACES = REGIONS.map((name, i) => ({ name, lat: i * 10, lon: i * 10 }));
const OPTIONS = { graceMs: 300, ttlMs: 900, flushDelayMs: 10 };

async function startNode(net: EmbeddedNetwork, region: string, name: string, opts: Partial<KvPresenceOptions> & { bus?: Bus } = {}): Promise<PresenceNode> {
  const bus = opts.bus ?? net.connect(region);
  let presence: Presence;
  try {
    presence = await createPresence(bus, { ...OPTIONS, ...opts, node: name, bucketRegion: HOME });
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
    const { bus, writes } = countingBus(network().connect(HOME));
    const big = await node(HOME, fresh('big'), { bus, graceMs: 200, ttlMs: 3000 });
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
    expect(state).toEqual({ user: 'user-7', online: true, regions: [HOME], connections: perUser });
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
    const a = await node(HOME, fresh('a'), { onError: (e) => errors.push(e) });
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

  it('a region cut off from the bucket is dropped by the others and freezes its own view until the cut heals', async () => {
    const a = await node(HOME);
    const b = await node(EU);
    const c = await node(AP);
    const recC = record(c.presence);
    const [alice, carol, dave] = [fresh('alice'), fresh('carol'), fresh('dave')];
    a.presence.connect(alice, 's');
    c.presence.connect(carol, 's');
    for (const n of [a, b, c]) await waitFor('both online', async () => (await online(n.presence, alice)) && (await online(n.presence, carol)));
    network().cut(AP, HOME);
    for (const n of [a, b]) await waitFor(`carol dropped in ${n.region}`, async () => !(await online(n.presence, carol)), OPTIONS.ttlMs * 3);
    c.presence.connect(dave, 's');
    await sleep(OPTIONS.ttlMs * 2);
    // The cut-off view does not declare the world dead, and sees its own users.
    expect(await c.presence.user(alice)).toMatchObject({ online: true, regions: [HOME] });
    expect(await c.presence.user(dave)).toMatchObject({ online: true, regions: [AP] });
    expect((c.presence as KvPresence).stats()).toMatchObject({ stale: true, outage: true });
    network().restore(AP, HOME);
    for (const n of [a, b]) {
      await waitFor(`carol and dave back in ${n.region}`, async () => (await online(n.presence, carol)) && (await online(n.presence, dave)), OPTIONS.ttlMs * 3);
    }
    await sleep(OPTIONS.ttlMs * 2);
    expect(await c.presence.user(alice)).toMatchObject({ online: true });
    expect(recC.of('offline', alice)).toHaveLength(0);
    expect((c.presence as KvPresence).stats()).toMatchObject({ stale: false, outage: false });
  });

  it('a region that goes down and comes back re-sends its state', async () => {
    const a = await node(HOME);
    const c = await node(AP);
    const carol = fresh('carol');
    c.presence.connect(carol, 's');
    c.presence.join('lobby', carol, 's');
    await waitFor('carol seen', () => online(a.presence, carol));
    // Every write acknowledged: what comes back after the outage is the re-send, not a retry.
    await (c.presence as KvPresence).flushed();
    await sleep(100);
    network().kill(AP);
    await waitFor('carol dropped', async () => !(await online(a.presence, carol)), OPTIONS.ttlMs * 3);
    // Long enough for the survivors to collect the silent node's keys.
    await sleep(OPTIONS.ttlMs * 2);
    network().revive(AP);
    await waitFor('carol back', async () => (await online(a.presence, carol)) && (await a.presence.room('lobby')).members.length === 1, OPTIONS.ttlMs * 3);
    await sleep(OPTIONS.ttlMs * 2);
    expect(await a.presence.user(carol)).toEqual({ user: carol, online: true, regions: [AP], connections: 1 });
  });

  it('a node restarted under the same name does not bring back the sessions of its previous run', async () => {
    const obs = await node(EU);
    const rec = record(obs.presence);
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    const name = fresh('n1');
    const kv = await network().connect(HOME).kv('mrd-presence');
    const keyOf = async (user: string): Promise<string> => (await kv.keys('u.>')).find((k) => k.startsWith(`u.${user}.`))!;

    // Restarted at once: the new run's first beat ends the old epoch, no need to wait for the ttl.
    const first = await node(HOME, name);
    first.presence.connect(alice, 's');
    await waitFor('alice seen', () => online(obs.presence, alice));
    await first.crash();
    const restarted = Date.now();
    const second = await node(HOME, name);
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
    const third = await node(HOME, name);
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
    const a = await node(HOME, fresh('a'), ttl);
    const alice = fresh('alice');
    a.presence.connect(alice, 's');
    await sleep(2500);
    // A node started now reads the bucket afresh: the record must still be there.
    const late = await node(EU, fresh('late'), ttl);
    await waitFor('alice seen by a late node', () => online(late.presence, alice), 2000);
    expect(await late.presence.user(alice)).toEqual({ user: alice, online: true, regions: [HOME], connections: 1 });
  });

  it('a node starts while the bucket home is down and catches up when it is back', async () => {
    network().kill(HOME);
    const t0 = Date.now();
    const b = await node(EU, fresh('b'), { startTimeoutMs: 300 });
    expect(Date.now() - t0).toBeLessThan(2000);
    const alice = fresh('alice');
    b.presence.connect(alice, 's');
    // Its own view answers at once, bucket or not.
    expect(await b.presence.user(alice)).toMatchObject({ online: true, regions: [EU] });
    network().revive(HOME);
    const c = await node(AP);
    await waitFor('alice seen once the bucket is back', () => online(c.presence, alice), 5000);
  });

  it('a dead node is collected by the survivors: its keys become tombstones', async () => {
    const a = await node(HOME);
    const dies = await node(EU);
    const alice = fresh('alice');
    dies.presence.connect(alice, 's');
    await waitFor('alice seen', () => online(a.presence, alice));
    await dies.crash();
    const kv = await network().connect(AP).kv('mrd-presence');
    const key = (await kv.keys('u.>')).find((k) => k.startsWith(`u.${alice}.`))!;
    await waitFor('tombstoned', async () => decoder.decode((await kv.get(key))!.value).includes('"gone"'), OPTIONS.ttlMs * 4);
    expect((a.presence as KvPresence).stats()).toMatchObject({ uncounted: 0 });
  });

  it('a live node writes its keys again when someone else removed them', async () => {
    const a = await node(HOME);
    const obs = await node(AP);
    const alice = fresh('alice');
    a.presence.connect(alice, 's');
    await waitFor('alice seen', () => online(obs.presence, alice));
    await (a.presence as KvPresence).flushed();
    // A collector that misjudged the node: tombstones its record, then its liveness key.
    const kv = await network().connect(EU).kv('mrd-presence');
    const tomb = new TextEncoder().encode(JSON.stringify({ v: 1, gone: 'test' }));
    const userKey = (await kv.keys('u.>')).find((k) => k.startsWith(`u.${alice}.`))!;
    await kv.update(userKey, tomb, (await kv.get(userKey))!.revision);
    await waitFor('the record written again', async () => !decoder.decode((await kv.get(userKey))!.value).includes('"gone"'));
    const nodeKey = (await kv.keys('n.>')).find((k) => k.startsWith(`n.${HOME}.`))!;
    await kv.update(nodeKey, tomb, (await kv.get(nodeKey))!.revision);
    await waitFor('the liveness key written again', async () => !decoder.decode((await kv.get(nodeKey))!.value).includes('"gone"'));
    await waitFor('alice seen again', () => online(obs.presence, alice));
    await sleep(OPTIONS.ttlMs);
    expect(await obs.presence.user(alice)).toEqual({ user: alice, online: true, regions: [HOME], connections: 1 });
  });

  it('two processes reporting as one node are reported, and do not fight over the records', async () => {
    const errors: unknown[] = [];
    const { bus, writes } = countingBus(network().connect(HOME));
    const name = fresh('twin');
    const one = await node(HOME, name, { bus, onError: (e) => errors.push(e) });
    const two = await node(HOME, name, { onError: (e) => errors.push(e) });
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

  it('refuses a bad bucketRegion', async () => {
    const bus = network().connect(HOME);
    await expectFails(() => createPresence(bus, { node: 'n', bucketRegion: '' }), ErrorCode.PresenceInvalid);
    await bus.close();
  });
});
