/**
 * The registry's multi-region behaviour, written once and run on every bus: the embedded network
 * and a real three-region NATS super-cluster. Each test opens one `Registry` per region on fresh
 * per-region buckets (the placement module's, with a test suffix), so tests never see each
 * other's workers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '../../src/bus/types.js';
import { openKv, placed } from '../../src/placement/mod.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import { Registry } from '../../src/services/mod.js';
import type { RegistryOptions, WorkerRegistration } from '../../src/services/mod.js';
import { waitFor } from '../bus/nats-env.js';

export interface RegistryFabric {
  readonly regions: readonly string[];
  /** One-way latency between regions (symmetric). */
  rtt(a: string, b: string): number;
  bus(region: string): Bus;
  /** Take a region's bus down (its servers), and bring it back with its data. */
  kill(region: string): Promise<void>;
  revive(region: string): Promise<void>;
  close(): Promise<void>;
}

export interface RegistryFabricFactory {
  readonly name: string;
  create(): Promise<RegistryFabric>;
}

export const worker = (id: string, region: string, service = 'echo'): WorkerRegistration => ({
  id,
  region,
  services: [{ name: service, url: `http://127.0.0.1:9/${id}` }],
});

export function runRegistrySuite(factory: RegistryFabricFactory): void {
  describe(`registry on ${factory.name}`, () => {
    let fabric: RegistryFabric;
    let n = 0;
    let suffix = '';
    const opened: Registry[] = [];
    beforeAll(async () => {
      fabric = await factory.create();
    });
    afterAll(async () => {
      await fabric?.close();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((r) => r.close()));
    });

    const bucketOf = (region: string): string => `${placed.workers(region).name}${suffix}`;
    /** One more registry in `region` on this test's buckets. */
    const make = async (region: string, opts: Partial<RegistryOptions> = {}): Promise<Registry> => {
      const r = await Registry.open({ bus: fabric.bus(region), bucketOf, rtt: (a, b) => fabric.rtt(a, b), regions: fabric.regions, ...opts });
      opened.push(r);
      return r;
    };
    /** One registry per region on new buckets (one per region), in the fabric's region order. */
    async function openAll(opts: Partial<RegistryOptions> = {}): Promise<Registry[]> {
      suffix = `-${factory.name}-${++n}`;
      return Promise.all(fabric.regions.map((r) => make(r, opts)));
    }
    /** What `region`'s workers bucket of this test stores for `id`. */
    async function stored(region: string, id: string): Promise<unknown> {
      const kv = await openKv(fabric.bus(region), { ...placed.workers(region), name: bucketOf(region) });
      const e = await kv.get(id);
      return e && JSON.parse(new TextDecoder().decode(e.value));
    }

    it('a registration in one region is visible from every other region', async () => {
      const regs = await openAll();
      const lease = await regs[0]!.register(worker('w1', fabric.regions[0]!));
      expect(lease).toMatchObject({ id: 'w1', heartbeatIntervalMs: 5000, staleAfterMs: 15_000, evictAfterMs: 60_000 });
      for (const r of regs) await waitFor(() => r.endpoints('echo').length === 1, `w1 visible in ${r.stats().workers}`);
      const ep = regs[2]!.endpoints('echo')[0]!;
      expect(ep).toMatchObject({ workerId: 'w1', region: fabric.regions[0], url: 'http://127.0.0.1:9/w1', weight: 1, stale: false });
      expect(regs[1]!.services()).toEqual([{ name: 'echo', endpoints: 1, healthy: 1, regions: [fabric.regions[0]] }]);
    });

    it('orders endpoints local region first, then other regions by RTT', async () => {
      const regs = await openAll();
      // Registered from one region for every region: where a worker registers does not matter.
      for (const region of fabric.regions) await regs[1]!.register(worker(`w-${region}`, region));
      for (const r of regs) await waitFor(() => r.endpoints('echo').length === 3, 'three endpoints everywhere');
      for (const [i, from] of fabric.regions.entries()) {
        const others = fabric.regions.filter((r) => r !== from).sort((a, b) => fabric.rtt(from, a) - fabric.rtt(from, b));
        const got = regs[i]!.endpoints('echo');
        expect(got.map((e) => e.region)).toEqual([from, ...others]);
        expect(got[0]!.rttMs).toBe(0);
        // Asking on behalf of another region orders from there.
        expect(regs[0]!.endpoints('echo', from).map((e) => e.region)).toEqual([from, ...others]);
      }
    });

    it('heartbeats carry load, deregistration removes a worker everywhere, unknown workers must register', async () => {
      const regs = await openAll();
      const [r0, r1] = fabric.regions;
      await regs[0]!.register(worker('w1', r1!));
      // A node adopts a worker it has seen in another region's bucket: wait until it has.
      await waitFor(() => regs[1]!.worker('w1') !== undefined, 'w1 seen in the second region');
      await regs[1]!.heartbeat('w1', { inFlight: 7, metrics: { gpu: 0.5 } });
      await waitFor(() => regs[2]!.endpoints('echo')[0]?.reportedInFlight === 7, 'load seen in a third region');
      expect(regs[2]!.worker('w1')?.record.load).toEqual({ inFlight: 7, metrics: { gpu: 0.5 } });
      expect(regs[2]!.worker('w1')?.heldIn).toBe(r1);
      expect(await stored(r0!, 'w1')).toMatchObject({ kind: 'worker', region: r1 });
      await regs[2]!.deregister('w1');
      for (const r of regs) await waitFor(() => r.workers().length === 0, 'w1 gone everywhere');
      await regs[2]!.deregister('w1'); // idempotent
      // The first bucket still holds the registration, but the deregistration is newer.
      const err = await regs[0]!.heartbeat('w1', { inFlight: 0 }).catch((e: unknown) => e);
      expect(isMeridianError(err, ErrorCode.SvcUnknownWorker)).toBe(true);
      // Registering again (anywhere) brings it back everywhere; not in the deregistration's
      // millisecond, though: a tie goes to the deregistration.
      await new Promise((r) => setTimeout(r, 5));
      await regs[1]!.register(worker('w1', r1!));
      for (const r of regs) await waitFor(() => r.worker('w1')?.health === 'healthy', 'w1 back everywhere');
    });

    it('a worker that moves its heartbeats to another region counts once, from the freshest record, in its own region', async () => {
      const regs = await openAll();
      const [r0, r1] = fabric.regions;
      await regs[0]!.register(worker('mover', r0!));
      for (const r of regs) await waitFor(() => r.worker('mover') !== undefined, 'mover everywhere');
      await regs[1]!.heartbeat('mover', { inFlight: 5 });
      for (const r of regs) await waitFor(() => r.worker('mover')?.heldIn === r1, 'the heartbeat through the second region');
      for (const r of regs) {
        expect(r.workers().map((w) => [w.record.id, w.record.region, w.record.load.inFlight])).toEqual([['mover', r0, 5]]);
        expect(r.endpoints('echo').map((e) => [e.workerId, e.region])).toEqual([['mover', r0]]);
      }
      await regs[0]!.heartbeat('mover', { inFlight: 2 });
      for (const r of regs) await waitFor(() => r.worker('mover')?.heldIn === r0 && r.worker('mover')?.record.load.inFlight === 2, 'back in its own region');
      expect(regs[2]!.workers()).toHaveLength(1);
    });

    it('marks a silent worker stale after 3 missed intervals, then evicts it once', async () => {
      const regs = await openAll({ heartbeatIntervalMs: 100, evictAfterMs: 700 });
      const [home, second] = fabric.regions;
      for (const id of ['a', 'b', 'silent']) await regs[0]!.register(worker(id, id === 'b' ? second! : home!));
      let beating = true;
      const beat = (async () => {
        while (beating) {
          await Promise.all(['a', 'b'].map((id) => regs[0]!.heartbeat(id, { inFlight: 0 })));
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      try {
        const far = regs[2]!;
        await waitFor(() => far.workers().length === 3, 'three workers');
        expect(far.worker('silent')?.health).toBe('healthy');
        await waitFor(() => far.worker('silent')?.health === 'stale', 'silent turns stale');
        // Two of three healthy: no panic, so the stale one is not offered.
        expect(far.stats().panic).toBe(false);
        expect(far.endpoints('echo').map((e) => e.workerId).sort()).toEqual(['a', 'b']);
        for (const r of regs) await waitFor(() => r.worker('silent') === undefined, 'silent gone everywhere');
        // Dropped from every view at its eviction time; evicted (tombstoned) once, by its bucket's region.
        await waitFor(() => regs.reduce((s, r) => s + r.stats().evictions, 0) === 1, 'one eviction');
        await new Promise((r) => setTimeout(r, 300));
        expect(regs.map((r) => r.stats().evictions)).toEqual([1, 0, 0]);
        expect(far.workers().map((w) => [w.record.id, w.health]).sort()).toEqual([['a', 'healthy'], ['b', 'healthy']]);
        const err = await regs[1]!.heartbeat('silent', { inFlight: 0 }).catch((e: unknown) => e);
        expect(isMeridianError(err, ErrorCode.SvcUnknownWorker)).toBe(true);
      } finally {
        beating = false;
        await beat;
      }
    });

    it("only the nodes of the bucket's region evict: two of them race, one wins; other regions only drop it from their view", async () => {
      let skew = 0;
      const now = (): number => Date.now() + skew;
      const regs = await openAll({ sweepIntervalMs: 0, now });
      const [r0, , r2] = fabric.regions;
      const twin = await make(r0!, { sweepIntervalMs: 0, now });
      await regs[0]!.register(worker('w1', r2!));
      for (const r of [...regs, twin]) await waitFor(() => r.worker('w1') !== undefined, 'w1 everywhere');
      skew = 10 * 60_000; // every view now judges w1 silent for ten minutes
      for (const r of regs) expect(r.worker('w1')).toBeUndefined(); // dropped from every view...
      const won = await Promise.all([...regs, twin].map((r) => r.sweep()));
      expect(won).toEqual([expect.any(Number), 0, 0, expect.any(Number)]);
      expect(won[0]! + won[3]!).toBe(1); // ...but evicted once, by a node of its bucket's region
      expect(regs[0]!.stats().evictionConflicts + twin.stats().evictionConflicts).toBe(1);
      expect(regs[1]!.stats().evictionConflicts + regs[2]!.stats().evictionConflicts).toBe(0);
      expect(await stored(r0!, 'w1')).toMatchObject({ kind: 'evicted', id: 'w1', by: r0 });
      skew = 0;
      for (const r of regs) await waitFor(() => r.worker('w1') === undefined, 'the tombstone everywhere');
      await regs[1]!.register(worker('w1', r2!));
      for (const r of regs) await waitFor(() => r.worker('w1')?.health === 'healthy', 'w1 back everywhere');
    });

    it.each([0, 1, 2])('region #%i down: the others register and heartbeat; its workers stay if they heartbeat elsewhere; views converge after', async (k) => {
      const regs = await openAll({ heartbeatIntervalMs: 150, missedHeartbeats: 3, evictAfterMs: 1200 });
      const dead = fabric.regions[k]!;
      const [a, b] = fabric.regions.filter((r) => r !== dead);
      const [ra, rb] = [regs[fabric.regions.indexOf(a!)]!, regs[fabric.regions.indexOf(b!)]!];
      const rd = regs[k]!;
      await rd.register(worker('moves', dead));
      await rd.register(worker('stays', dead));
      await rb.register(worker('fresh', b!));
      for (const r of regs) await waitFor(() => r.workers().length === 3, 'three workers everywhere');
      // Heartbeats as the worker SDK sends them: 'moves' to its own region's node first, then (no
      // answer within an interval) to another region's; 'fresh' to its own. 'stays' is silent.
      let beating = true;
      const loop = async (beat: () => Promise<unknown>): Promise<void> => {
        while (beating) {
          await beat().catch(() => undefined);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const load = { inFlight: 1 };
      const beats = Promise.all([
        loop(() => within(rd.heartbeat('moves', load), 150).catch(() => ra.heartbeat('moves', load))),
        loop(() => rb.heartbeat('fresh', { inFlight: 3 })),
      ]);
      let down = false;
      try {
        await fabric.kill(dead);
        down = true;
        const err = await rd.register(worker('late', dead)).catch((e: unknown) => e);
        expect(isMeridianError(err, ErrorCode.BusUnavailable) || isMeridianError(err, ErrorCode.BusTimeout)).toBe(true);
        // Registrations and heartbeats go on in the other regions.
        await ra.register(worker('new', a!));
        await waitFor(() => rb.worker('new')?.health === 'healthy', 'a registration during the outage seen by the other survivor');
        await ra.deregister('new');
        for (const r of [ra, rb]) await waitFor(() => r.worker('fresh')?.record.load.inFlight === 3, 'fresh heartbeats in both survivors');
        // The silent one turns stale, then leaves the survivors' views; the moving one stays.
        for (const r of [ra, rb]) await waitFor(() => r.worker('stays') === undefined, 'stays dropped');
        for (const r of [ra, rb]) {
          expect(r.worker('moves')).toMatchObject({ health: 'healthy', heldIn: a, record: { region: dead } });
          expect(r.worker('fresh')).toMatchObject({ health: 'healthy', heldIn: b });
        }
        // Nothing was evicted in the survivors: 'stays' is in the dead region's bucket.
        expect(ra.stats().evictions + rb.stats().evictions).toBe(0);
        await fabric.revive(dead);
        down = false;
        // Back: 'moves' heartbeats home again, the region's node evicts its silent record, and
        // every view agrees.
        const ids = (r: Registry): string => JSON.stringify(r.workers().map((w) => `${w.record.id}@${w.record.region}:${w.health}`).sort());
        const want = JSON.stringify([`fresh@${b}:healthy`, `moves@${dead}:healthy`]);
        for (const r of regs) await waitFor(() => ids(r) === want && r.worker('moves')?.heldIn === dead, `${want} in every view`, 20_000);
        await waitFor(async () => ((await stored(dead, 'stays')) as { kind?: string } | null)?.kind === 'evicted', 'the region to evict its own silent record', 10_000);
        expect(await stored(dead, 'stays')).toMatchObject({ by: dead });
      } finally {
        beating = false;
        await beats;
        if (down) await fabric.revive(dead);
      }
    }, 90_000);
  });
}

/** `p`, or a rejection once `ms` passed (the worker SDK bounds each heartbeat by its interval). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
