/**
 * The embedded bus: the conformance suite over a three-region EmbeddedNetwork, plus what only the
 * simulation promises (latency from geography, FIFO links, payload copies, watch catch-up).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import type { EmbeddedRegion } from '../../src/bus/embedded/mod.js';
import { greatCircleKm } from '../../src/topology/geo.js';
import { ErrorCode } from '../../src/errors/mod.js';
import type { BusMessage, BusStatus } from '../../src/bus/types.js';
import { runBusConformance } from './conformance.js';
import type { BusFabric, FabricFactory } from './fabric.js';
import { collectWatch, dec, enc, expectFails, expectThrows, sleep, waitFor } from './conformance/helpers.js';

const REGIONS: EmbeddedRegion[] = [
  { name: 'us-east', lat: 39.04, lon: -77.49 }, // Ashburn
  { name: 'eu-west', lat: 53.35, lon: -6.26 }, // Dublin
  { name: 'ap-southeast', lat: 1.35, lon: 103.82 }, // Singapore
];

/** Small per-distance latency: tests run fast, yet the nearest region still comes from geography. */
function embeddedFabric(net: EmbeddedNetwork): BusFabric {
  return {
    regions: net.regions,
    linkLatencyMs: (a, b) => net.linkLatencyMs(a, b),
    connect: (region) => Promise.resolve(net.connect(region)),
    kill: (region) => Promise.resolve(net.kill(region)),
    revive: (region) => Promise.resolve(net.revive(region)),
    cut: (a, b) => Promise.resolve(net.cut(a, b)),
    restore: (a, b) => Promise.resolve(net.restore(a, b)),
    close: () => net.close(),
  };
}

const factory: FabricFactory = {
  name: 'embedded',
  create: () => Promise.resolve(embeddedFabric(new EmbeddedNetwork(REGIONS, { msPer100Km: 0.05 }))),
};

runBusConformance(factory);

describe('embedded network', () => {
  let net: EmbeddedNetwork | undefined;
  const make = (opts: ConstructorParameters<typeof EmbeddedNetwork>[1] = {}): EmbeddedNetwork => (net = new EmbeddedNetwork(REGIONS, opts));
  afterEach(async () => {
    await net?.close();
    net = undefined;
  });

  const received = (bus: ReturnType<EmbeddedNetwork['connect']>, subject: string): BusMessage[] => {
    const out: BusMessage[] = [];
    bus.subscribe(subject, (m) => out.push(m));
    return out;
  };

  it('derives link latency from great-circle distance unless overridden', () => {
    const n = make({ msPer100Km: 2, latencyMs: { 'ap-southeast|eu-west': 42 } });
    const km = greatCircleKm(REGIONS[0]!, REGIONS[1]!);
    expect(n.linkLatencyMs('us-east', 'eu-west')).toBeCloseTo((km / 100) * 2, 6);
    expect(n.linkLatencyMs('eu-west', 'us-east')).toBe(n.linkLatencyMs('us-east', 'eu-west'));
    expect(n.linkLatencyMs('eu-west', 'ap-southeast')).toBe(42);
    expect(n.linkLatencyMs('us-east', 'us-east')).toBe(0);
    n.setLatency('us-east', 'eu-west', 7);
    expect(n.linkLatencyMs('eu-west', 'us-east')).toBe(7);
    expectThrows(() => n.linkLatencyMs('us-east', 'mars'), ErrorCode.BusUnknownRegion);
    expectThrows(() => n.connect('mars'), ErrorCode.BusUnknownRegion);
    expectThrows(() => n.setLatency('us-east', 'eu-west', -1), ErrorCode.InvalidArgument);
    expect(make({ latencyMs: () => 3 }).linkLatencyMs('us-east', 'ap-southeast')).toBe(3);
  });

  it('delivers across a link no sooner than its latency, and locally without blocking publish', async () => {
    const n = make({ latencyMs: () => 40 });
    const pub = n.connect('us-east');
    const local = received(n.connect('us-east'), 'mrd.t');
    const remote = received(n.connect('eu-west'), 'mrd.t');
    const sent = performance.now();
    let arrived = 0;
    n.connect('eu-west').subscribe('mrd.t', () => (arrived = performance.now()));
    pub.publish('mrd.t', enc('x'));
    expect(local).toHaveLength(0); // asynchronous even in the same region
    await pub.flush();
    expect(local).toHaveLength(1);
    await waitFor('remote delivery', () => remote.length === 1);
    expect(arrived - sent).toBeGreaterThanOrEqual(39);
  });

  it('keeps a link FIFO when its latency drops while messages are in flight', async () => {
    const n = make();
    n.setLatency('us-east', 'eu-west', 80);
    const got = received(n.connect('eu-west'), 'mrd.fifo');
    const pub = n.connect('us-east');
    pub.publish('mrd.fifo', enc('first'));
    n.setLatency('us-east', 'eu-west', 1);
    pub.publish('mrd.fifo', enc('second'));
    await waitFor('both messages', () => got.length === 2);
    expect(got.map((m) => dec(m.data))).toEqual(['first', 'second']);
  });

  it('delivers a copy of the payload, so a publisher may reuse its buffer', async () => {
    const n = make({ msPer100Km: 0.05 });
    const got = received(n.connect('ap-southeast'), 'mrd.copy');
    const buf = enc('original');
    n.connect('us-east').publish('mrd.copy', buf);
    buf.fill(0);
    await waitFor('delivery', () => got.length === 1);
    expect(dec(got[0]!.data)).toBe('original');
  });

  it('spreads a queue group over all members in the publisher region', async () => {
    const n = make();
    const bus = n.connect('us-east');
    const counts = [0, 0];
    bus.subscribe('mrd.q', () => counts[0]!++, { queue: 'g' });
    bus.subscribe('mrd.q', () => counts[1]!++, { queue: 'g' });
    for (let i = 0; i < 200; i++) bus.publish('mrd.q', enc(String(i)));
    await waitFor('all messages', () => counts[0]! + counts[1]! === 200);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
  });

  it('drops a message in flight when its link is cut before it arrives', async () => {
    const n = make({ latencyMs: () => 50 });
    const got = received(n.connect('eu-west'), 'mrd.lost');
    n.connect('us-east').publish('mrd.lost', enc('x'));
    n.cut('us-east', 'eu-west');
    await sleep(120);
    n.restore('us-east', 'eu-west');
    expect(got).toHaveLength(0);
  });

  it('loses what a bus in a killed region publishes, and keeps its subscriptions for the revival', async () => {
    const n = make({ msPer100Km: 0.05 });
    const outside = received(n.connect('eu-west'), 'mrd.dead');
    const dead = n.connect('us-east');
    const inside = received(dead, 'mrd.dead');
    n.kill('us-east');
    expect(n.isUp('us-east')).toBe(false);
    dead.publish('mrd.dead', enc('from the dead'));
    n.connect('eu-west').publish('mrd.dead', enc('to the dead'));
    await sleep(50);
    expect(outside.map((m) => dec(m.data))).toEqual(['to the dead']);
    expect(inside).toHaveLength(0);
    await expectFails(() => dead.request('mrd.dead', enc('?'), { timeoutMs: 50 }), ErrorCode.BusTimeout);
    n.revive('us-east');
    dead.publish('mrd.dead', enc('alive'));
    await waitFor('delivery after revive', () => inside.length === 1 && outside.length === 2);
  });

  it('takes a round trip for KV calls from another region and validates bucket options', async () => {
    const n = make({ latencyMs: () => 30 });
    const kv = await n.connect('eu-west').kv('rt', { region: 'us-east' });
    const t0 = performance.now();
    await kv.put('k', enc('v'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
    const bus = n.connect('us-east');
    await expectFails(() => bus.kv('h0', { history: 0 }), ErrorCode.InvalidArgument);
    await expectFails(() => bus.kv('h65', { history: 65 }), ErrorCode.InvalidArgument);
    await expectFails(() => bus.kv('neg', { ttlMs: -1 }), ErrorCode.InvalidArgument);
    await expectFails(() => bus.kv('where', { region: 'mars' }), ErrorCode.BusUnknownRegion);
    await expectFails(() => bus.kv('big').then((b) => b.put('k', new Uint8Array(bus.maxPayload + 1))), ErrorCode.BusPayloadTooLarge);
  });

  it('lets a watcher cut off from the home region catch up on revive, in revision order', async () => {
    const n = make({ msPer100Km: 0.05 });
    const writer = await n.connect('us-east').kv('catchup', { history: 5 });
    const seen = collectWatch(await (await n.connect('ap-southeast').kv('catchup')).watch({ initial: false }));
    await writer.put('a', enc('1'));
    await waitFor('first change', () => seen.entries.length === 1);
    n.kill('ap-southeast');
    await writer.put('a', enc('2'));
    await writer.put('b', enc('3'));
    await sleep(30);
    expect(seen.entries).toHaveLength(1);
    n.revive('ap-southeast');
    await writer.put('c', enc('4'));
    await waitFor('all changes', () => seen.entries.length === 4);
    expect(seen.entries.map((e) => dec(e.value))).toEqual(['1', '2', '3', '4']);
  });

  it('reports a throwing handler as an error status and keeps delivering', async () => {
    const n = make();
    const bus = n.connect('us-east');
    const statuses: BusStatus[] = [];
    void (async () => {
      for await (const s of bus.status()) statuses.push(s);
    })();
    const got: string[] = [];
    bus.subscribe('mrd.boom', (m) => {
      if (dec(m.data) === 'bad') throw new Error('handler bug');
      got.push(dec(m.data));
    });
    bus.publish('mrd.boom', enc('bad'));
    bus.publish('mrd.boom', enc('good'));
    await waitFor('the good message', () => got.length === 1);
    expect(statuses.map((s) => s.type)).toContain('error');
  });

  it('closing the network closes its buses and refuses new connections', async () => {
    const n = make();
    const bus = n.connect('us-east');
    await n.close();
    await n.close();
    expectThrows(() => bus.publish('mrd.x', enc('x')), ErrorCode.BusClosed);
    expectThrows(() => n.connect('us-east'), ErrorCode.BusClosed);
  });
});
