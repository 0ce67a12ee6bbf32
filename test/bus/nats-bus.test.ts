/**
 * NATS-specific behaviour of `NatsBus` beyond the shared conformance suite: status as data
 * across a server restart, mapping of nats.js errors to codes, surviving servers dying under
 * in-flight calls, queue-group failover by gateway RTT, KV while its home region is down.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { NatsBus } from '../../src/bus/nats/mod.js';
import type { BusStatus, Kv, KvEntry } from '../../src/bus/types.js';
import { isMeridianError } from '../../src/errors/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { REGIONS, describeWithNats, latencyMs, waitFor } from './nats-env.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** The code of the MeridianError `p` rejects with (fails the test if it resolves). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isMeridianError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a rejection');
}

describeWithNats('NatsBus on a NATS super-cluster', () => {
  let sc: SuperCluster;
  const buses: NatsBus[] = [];

  async function connect(region: string): Promise<NatsBus> {
    const bus = await connectNatsBus({ region, servers: [sc.url(region)], requestTimeoutMs: 2000 });
    buses.push(bus);
    return bus;
  }

  /**
   * Open a bucket, retrying while JetStream is still taking back a region restarted by an
   * earlier test (creation then fails with BUS_UNAVAILABLE, "peer offline", for a moment).
   */
  async function openKv(bus: NatsBus, bucket: string, opts?: { region?: string; history?: number }): Promise<Kv> {
    let kv: Kv | undefined;
    await waitFor(async () => {
      try {
        kv = await bus.kv(bucket, opts);
        return true;
      } catch (err) {
        if (isMeridianError(err, 'BUS_UNAVAILABLE')) return false;
        throw err;
      }
    }, `bucket ${bucket} to open`, 20_000, 200);
    return kv!;
  }

  /** Read a status iterable into `into`; resolves when it ends. */
  async function collect(it: AsyncIterable<BusStatus>, into: string[]): Promise<void> {
    for await (const s of it) into.push(s.type);
  }

  beforeAll(async () => {
    sc = await startSuperCluster({ regions: REGIONS, latencyMs });
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
    // A test that failed half-way may leave a region down; the next one needs all three.
    for (const r of REGIONS) if (!sc.isRunning(r)) await sc.start(r);
  });

  afterAll(async () => {
    await sc?.close();
  });

  it('reports disconnect, reconnecting and reconnect to every status iterator across a server restart', async () => {
    const bus = await connect('us-east');
    const a: string[] = [];
    const b: string[] = [];
    const endedA = collect(bus.status(), a);
    const endedB = collect(bus.status(), b);
    await sc.stop('us-east');
    await waitFor(() => a.includes('reconnecting') && b.includes('reconnecting'), 'disconnect reported');
    expect(a[0]).toBe('disconnected');
    expect(b[0]).toBe('disconnected');
    await sc.start('us-east');
    await waitFor(() => a.includes('reconnected') && b.includes('reconnected'), 'reconnect reported');
    // The connection is usable again.
    const got: string[] = [];
    bus.subscribe('t.status', (m) => got.push(dec(m.data)));
    await bus.flush();
    bus.publish('t.status', enc('back'));
    await waitFor(() => got.length === 1, 'message after reconnect');
    await bus.close();
    await Promise.all([endedA, endedB]);
    expect(a.at(-1)).toBe('closed');
    expect(b.at(-1)).toBe('closed');
    // After close: a new status iterator ends at once, calls throw BUS_CLOSED.
    const late: string[] = [];
    await collect(bus.status(), late);
    expect(late).toEqual([]);
    expect(() => bus.publish('t.x', enc(''))).toThrow(expect.objectContaining({ code: 'BUS_CLOSED' }));
  });

  it('maps request failures to BUS_NO_RESPONDERS, BUS_TIMEOUT and BUS_CLOSED', async () => {
    const us = await connect('us-east');
    const eu = await connect('eu-west');
    expect(await codeOf(us.request('t.nobody', enc('x'), { timeoutMs: 2000 }))).toBe('BUS_NO_RESPONDERS');
    eu.subscribe('t.silent', () => {}); // never answers
    await eu.flush();
    await waitFor(async () => (await codeOf(us.request('t.silent', enc('x'), { timeoutMs: 300 }))) === 'BUS_TIMEOUT', 'timeout instead of no responders');
    const inFlight = codeOf(us.request('t.silent', enc('x'), { timeoutMs: 10_000 }));
    await us.close();
    expect(await inFlight).toBe('BUS_CLOSED');
    expect(await codeOf(us.request('t.silent', enc('x')))).toBe('BUS_CLOSED');
    expect(() => eu.publish('t.bad.*', enc(''))).toThrow(expect.objectContaining({ code: 'BUS_INVALID_SUBJECT' }));
    expect(() => eu.publish('t.big', new Uint8Array(eu.maxPayload + 1))).toThrow(expect.objectContaining({ code: 'BUS_PAYLOAD_TOO_LARGE' }));
  });

  it('rejects in-flight requests with a typed error when the responder region or its own server dies', async () => {
    const us = await connect('us-east');
    const eu = await connect('eu-west');
    eu.subscribe('t.hang', () => {});
    await eu.flush();
    await waitFor(async () => (await codeOf(us.request('t.hang', enc('x'), { timeoutMs: 300 }))) === 'BUS_TIMEOUT', 'interest across the gateway');
    // Responder's region dies.
    const remote = codeOf(us.request('t.hang', enc('x'), { timeoutMs: 3000 }));
    await sc.stop('eu-west', { kill: true });
    expect(await remote).toBe('BUS_TIMEOUT');
    // Back before the next kill, so JetStream never loses its meta quorum (2 of 3 down).
    await sc.start('eu-west');
    // Requester's own server dies.
    const local = codeOf(us.request('t.hang', enc('x'), { timeoutMs: 3000 }));
    await sc.stop('us-east', { kill: true });
    expect(['BUS_TIMEOUT', 'BUS_UNAVAILABLE']).toContain(await local);
    await sc.start('us-east');
  });

  it('routes a queue group to the nearest region with a member, and fails over to the next nearest', async () => {
    const us = await connect('us-east');
    const serve = (bus: NatsBus): void => {
      bus.subscribe('t.q', (m) => m.reply && bus.publish(m.reply, enc(bus.region)), { queue: 'workers' });
    };
    const ap = await connect('ap-southeast');
    serve(ap);
    const eu = await connect('eu-west');
    serve(eu);
    await Promise.all([ap.flush(), eu.flush()]);
    // Answers of a batch of requests from us-east, by region.
    const batch = async (): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < 10; i++) {
        try {
          out.push(dec((await us.request('t.q', enc(''), { timeoutMs: 1000 })).data));
        } catch {
          out.push('none');
        }
      }
      return out;
    };
    // eu-west is 8 ms from us-east, ap-southeast 30 ms: once gateway RTTs are measured, eu-west serves all.
    await waitFor(async () => (await batch()).every((r) => r === 'eu-west'), 'eu-west serving every request', 20_000);
    await sc.stop('eu-west');
    await waitFor(async () => (await batch()).every((r) => r === 'ap-southeast'), 'failover to ap-southeast', 20_000);
    await sc.start('eu-west');
    await waitFor(async () => (await batch()).every((r) => r === 'eu-west'), 'eu-west back in charge', 20_000);
    // A member in the publisher's own region wins over every remote one.
    serve(us);
    await us.flush();
    await waitFor(async () => (await batch()).every((r) => r === 'us-east'), 'local member preferred', 20_000);
  });

  it('KV: typed errors for revisions, existing keys, bad keys and unknown regions', async () => {
    const us = await connect('us-east');
    const kv = await openKv(us, 'nats-errors', { history: 2 });
    const r1 = await kv.put('a', enc('1'));
    expect(await codeOf(kv.create('a', enc('2')))).toBe('KV_KEY_EXISTS');
    expect(await codeOf(kv.update('a', enc('2'), r1 + 100))).toBe('KV_WRONG_REVISION');
    expect(await codeOf(kv.update('a', enc('2'), 0))).toBe('KV_WRONG_REVISION');
    expect(await kv.update('a', enc('2'), r1)).toBeGreaterThan(r1);
    expect(await codeOf(kv.get('bad key'))).toBe('KV_INVALID_KEY');
    expect(await codeOf(us.kv('nats-nowhere', { region: 'mars' }))).toBe('BUS_UNKNOWN_REGION');
    await kv.delete('a');
    expect(await kv.get('a')).toBeNull();
    expect(await kv.create('a', enc('3'))).toBeGreaterThan(r1);
  });

  it('KV: unavailable while the home region is down, intact after, and watches resume', async () => {
    const us = await connect('us-east');
    const ap = await connect('ap-southeast');
    const kv = await openKv(us, 'nats-home', { region: 'eu-west' });
    const r1 = await kv.put('k', enc('before'));
    const apKv = await ap.kv('nats-home');
    const watch = await apKv.watch({ initial: false });
    const seen: KvEntry[] = [];
    const watching = (async () => {
      for await (const e of watch) seen.push(e);
    })();
    await sc.stop('eu-west');
    const down = ['BUS_UNAVAILABLE', 'BUS_TIMEOUT'];
    expect(down).toContain(await codeOf(kv.get('k')));
    expect(down).toContain(await codeOf(kv.put('k', enc('lost'))));
    expect(down).toContain(await codeOf(apKv.keys()));
    expect(down).toContain(await codeOf(apKv.watch()));
    await sc.start('eu-west');
    await waitFor(async () => (await kv.get('k').catch(() => null)) !== null, 'bucket back', 20_000, 200);
    expect(dec((await kv.get('k'))!.value)).toBe('before');
    const r2 = await kv.put('k', enc('after'));
    expect(r2).toBeGreaterThan(r1);
    await waitFor(() => seen.some((e) => e.revision === r2), 'watch sees the change made after the restart', 20_000);
    expect(seen.filter((e) => e.revision === r2)).toHaveLength(1);
    expect(dec(seen.find((e) => e.revision === r2)!.value)).toBe('after');
    await ap.close();
    await watching; // the bus closing ends the watch
  });

  it("KV: a watch whose own region's server restarts catches up with every change made meanwhile", async () => {
    const us = await connect('us-east');
    const ap = await connect('ap-southeast');
    const kv = await openKv(us, 'nats-catchup', { region: 'eu-west' });
    const watch = await (await ap.kv('nats-catchup')).watch({ initial: false });
    const seen: KvEntry[] = [];
    void (async () => {
      for await (const e of watch) seen.push(e);
    })();
    const r0 = await kv.put('a', enc('0'));
    await waitFor(() => seen.length === 1, 'first change');
    await sc.stop('ap-southeast');
    const during = [await kv.put('b', enc('1')), await kv.put('c', enc('2'))];
    await kv.delete('a');
    await sc.start('ap-southeast');
    const r3 = await kv.put('d', enc('3'));
    await waitFor(() => seen.some((e) => e.revision === r3), 'the change after the restart', 30_000);
    expect(seen.map((e) => [e.key, e.operation])).toEqual([
      ['a', 'PUT'],
      ['b', 'PUT'],
      ['c', 'PUT'],
      ['a', 'DEL'],
      ['d', 'PUT'],
    ]);
    expect(seen.map((e) => e.revision)).toEqual([r0, ...during, during[1]! + 1, r3]);
    watch.stop();
  });
});
