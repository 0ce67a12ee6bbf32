/**
 * The registry's multi-region behaviour, written once and run on every bus: the embedded network
 * and a real three-region NATS super-cluster. Each test opens one `Registry` per region on a
 * fresh bucket homed in the first region, so tests never see each other's workers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buckets } from '../../src/bus/subjects.js';
import type { Bus } from '../../src/bus/types.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import { Registry } from '../../src/services/mod.js';
import type { RegistryOptions, WorkerRegistration } from '../../src/services/mod.js';
import { waitFor } from '../bus/nats-env.js';

export interface RegistryFabric {
  readonly regions: readonly string[];
  /** One-way latency between regions (symmetric). */
  rtt(a: string, b: string): number;
  bus(region: string): Bus;
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
    let bucket = '';
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

    /** One registry per region on a new bucket homed in the first region. */
    async function openAll(opts: Partial<RegistryOptions> = {}): Promise<Registry[]> {
      bucket = buckets.name(`workers-${factory.name}-${++n}`);
      const [home, ...rest] = fabric.regions;
      const make = async (region: string): Promise<Registry> => {
        const r = await Registry.open({ bus: fabric.bus(region), bucket, home, rtt: (a, b) => fabric.rtt(a, b), regions: fabric.regions, ...opts });
        opened.push(r);
        return r;
      };
      const first = await make(home!);
      return [first, ...(await Promise.all(rest.map(make)))];
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
      await regs[0]!.register(worker('w1', fabric.regions[1]!));
      await regs[1]!.heartbeat('w1', { inFlight: 7, metrics: { gpu: 0.5 } });
      await waitFor(() => regs[2]!.endpoints('echo')[0]?.reportedInFlight === 7, 'load seen in a third region');
      expect(regs[2]!.worker('w1')?.record.load).toEqual({ inFlight: 7, metrics: { gpu: 0.5 } });
      await regs[2]!.deregister('w1');
      for (const r of regs) await waitFor(() => r.workers().length === 0, 'w1 gone everywhere');
      await regs[2]!.deregister('w1'); // idempotent
      const err = await regs[0]!.heartbeat('w1', { inFlight: 0 }).catch((e: unknown) => e);
      expect(isMeridianError(err, ErrorCode.SvcUnknownWorker)).toBe(true);
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
        for (const r of regs) await waitFor(() => r.worker('silent') === undefined, 'silent evicted everywhere');
        expect(regs.reduce((s, r) => s + r.stats().evictions, 0)).toBe(1);
        expect(far.workers().map((w) => [w.record.id, w.health]).sort()).toEqual([['a', 'healthy'], ['b', 'healthy']]);
        const err = await regs[1]!.heartbeat('silent', { inFlight: 0 }).catch((e: unknown) => e);
        expect(isMeridianError(err, ErrorCode.SvcUnknownWorker)).toBe(true);
      } finally {
        beating = false;
        await beat;
      }
    });

    it('regions racing to evict the same worker: exactly one wins, the record is a tombstone, re-registration works', async () => {
      let skew = 0;
      const regs = await openAll({ sweepIntervalMs: 0, now: () => Date.now() + skew });
      await regs[0]!.register(worker('w1', fabric.regions[2]!));
      for (const r of regs) await waitFor(() => r.worker('w1') !== undefined, 'w1 everywhere');
      skew = 10 * 60_000; // every view now judges w1 silent for ten minutes
      const won = await Promise.all(regs.map((r) => r.sweep()));
      expect(won.reduce((a, b) => a + b, 0)).toBe(1);
      expect(regs.reduce((s, r) => s + r.stats().evictionConflicts, 0)).toBe(regs.length - 1);
      for (const r of regs) await waitFor(() => r.worker('w1') === undefined, 'w1 dropped everywhere');
      const stored = await (await fabric.bus(fabric.regions[1]!).kv(bucket)).get('w1');
      expect(JSON.parse(new TextDecoder().decode(stored!.value))).toMatchObject({ kind: 'evicted', id: 'w1' });
      skew = 0;
      await regs[1]!.register(worker('w1', fabric.regions[2]!));
      for (const r of regs) await waitFor(() => r.worker('w1')?.health === 'healthy', 'w1 back everywhere');
    });
  });
}
