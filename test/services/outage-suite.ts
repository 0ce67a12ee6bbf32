/**
 * A region's bus dies, each region in turn (the topology's first included), on the embedded bus
 * and on the 3-region NATS super-cluster with 50 ms links. The region's node keeps serving HTTP
 * (only its bus is gone), and:
 * - a live worker of that region, started with every region's node (own first), heartbeats
 *   through another region's node, stays healthy everywhere past its eviction time and is called
 *   from every surviving region;
 * - in the survivors, a new worker registers, heartbeats and is called (a service and a
 *   function), and a failing async invocation is dead-lettered in the accepting region;
 * - once the region is back, the worker returns to its own node and every view agrees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudEvent, HTTP } from 'cloudevents';
import { serve } from '../../src/worker/mod.js';
import type { Worker } from '../../src/worker/mod.js';
import { REGIONS, latencyMs } from '../bus/nats-env.js';
import { startMesh, TOKEN } from './mesh-env.js';
import type { BusKind, Mesh } from './mesh-env.js';

const FUNCTIONS = `functions:
  whereami: {}
  broken:
    async: { maxAttempts: 2, backoffMs: 10 }
`;
const TIMING = { heartbeatIntervalMs: 200, missedHeartbeats: 4, evictAfterMs: 2500, sweepIntervalMs: 200 };

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function callFn(node: string, fn: string, async = false): Promise<Response> {
  const msg = HTTP.binary(new CloudEvent({ type: 'test.call', source: '/tests', data: { n: 1 } }));
  return fetch(`${node}/v1/functions/${fn}`, { method: 'POST', headers: { ...(msg.headers as Record<string, string>), ...(async ? { prefer: 'respond-async' } : {}) }, body: msg.body as string });
}

export function runOutageSuite(kind: BusKind): void {
  describe(`a region's bus dies (${kind})`, () => {
    let mesh: Mesh;
    /** Every region's node, `own` first, then the others nearest first. */
    const nodesFor = (own: string): string[] => [own, ...REGIONS.filter((r) => r !== own).sort((x, y) => latencyMs(own, x) - latencyMs(own, y))].map((r) => mesh.url(r));
    const view = (region: string, id: string) => mesh.module(region).registry.worker(id);

    beforeAll(async () => {
      mesh = await startMesh({ kind, extraTopology: FUNCTIONS, linkMs: 50, module: { registry: TIMING } });
    }, 60_000);
    afterAll(async () => {
      await mesh?.close();
    });

    it.each(REGIONS.map((r, i) => [i, r]))('region #%i (%s) down, then back', async (_i, dead) => {
      const [a, b] = REGIONS.filter((r) => r !== dead) as [string, string];
      const workers: Worker[] = [];
      let down = false;
      try {
        const liveId = `live-${dead}-${kind}`;
        const live = await serve({
          node: nodesFor(dead),
          region: dead,
          token: TOKEN,
          id: liveId,
          handleSignals: false,
          services: { [`in-${dead}`]: (_req, res) => res.end(`served in ${dead}`) },
        });
        workers.push(live);
        expect(live.node).toBe(mesh.url(dead));
        for (const r of REGIONS) await until(() => view(r, liveId)?.health === 'healthy', `${r} to see ${liveId}`);

        await mesh.kill(dead);
        down = true;
        const killedAt = Date.now();
        // Its heartbeats move to another region's node; its region is unchanged.
        await until(() => live.node !== mesh.url(dead), 'the worker to fail over to another node');
        for (const r of [a, b]) await until(() => view(r, liveId)?.heldIn !== dead && view(r, liveId)?.health === 'healthy', `${r} to see heartbeats through a survivor`);
        expect(view(a, liveId)!.record.region).toBe(dead);

        // A new worker registers in a survivor, heartbeats, and is called from both survivors.
        const newId = `new-${dead}-${kind}`;
        const fresh = await serve({
          node: nodesFor(a),
          region: a,
          token: TOKEN,
          id: newId,
          handleSignals: false,
          services: { [`new-${dead}`]: (_req, res) => res.end(`served in ${a}`) },
          functions: {
            whereami: () => ({ worker: newId }),
            broken: () => {
              throw new Error('always fails');
            },
          },
        });
        workers.push(fresh);
        expect(fresh.region).toBe(a);
        for (const r of [a, b]) await until(() => view(r, newId)?.health === 'healthy', `${r} to see ${newId}`);
        const registeredAt = view(b, newId)!.revision;
        await until(() => (view(b, newId)?.revision ?? 0) > registeredAt, `a heartbeat of ${newId} seen in ${b}`);
        for (const from of [a, b]) {
          const own = await fetch(`${mesh.url(from)}/v1/services/in-${dead}/`);
          expect([own.status, own.headers.get('x-meridian-worker'), await own.text()]).toEqual([200, liveId, `served in ${dead}`]);
          const other = await fetch(`${mesh.url(from)}/v1/services/new-${dead}/`);
          expect([other.status, await other.text()]).toEqual([200, `served in ${a}`]);
          const fn = await callFn(mesh.url(from), 'whereami');
          expect(fn.status).toBe(200);
          expect(fn.headers.get('x-meridian-worker')).toBe(newId);
        }

        // A failing async invocation accepted in a survivor lands in that region's DLQ.
        const accepted = await callFn(mesh.url(b), 'broken', true);
        expect(accepted.status).toBe(202);
        const { id: invocation } = (await accepted.json()) as { id: string };
        let letter: { state?: string; function?: string } = {};
        await until(async () => {
          const r = await fetch(`${mesh.url(b)}/v1/dlq/${invocation}`);
          if (r.status === 200) letter = (await r.json()) as typeof letter;
          return r.status === 200;
        }, 'the dead letter');
        expect(letter).toMatchObject({ state: 'dead', function: 'broken' });

        // Past its eviction time since the kill, the live worker is still there everywhere up.
        await new Promise((r) => setTimeout(r, Math.max(0, killedAt + TIMING.evictAfterMs + 300 - Date.now())));
        for (const r of [a, b]) expect(view(r, liveId)).toMatchObject({ health: 'healthy', record: { region: dead } });
        const still = await fetch(`${mesh.url(b)}/v1/services/in-${dead}/`);
        expect(still.status).toBe(200);

        await mesh.revive(dead);
        down = false;
        // The worker goes back to its own node; every view converges on the same fleet.
        await until(() => live.node === mesh.url(dead), 'the worker to return to its own node', 30_000);
        const fleet = (r: string): string =>
          JSON.stringify(
            mesh
              .module(r)
              .registry.workers()
              .filter((w) => w.record.id.endsWith(`${dead}-${kind}`))
              .map((w) => `${w.record.id}@${w.record.region}:${w.health}`)
              .sort(),
          );
        const want = JSON.stringify([`live-${dead}-${kind}@${dead}:healthy`, `new-${dead}-${kind}@${a}:healthy`]);
        for (const r of REGIONS) await until(() => fleet(r) === want && view(r, liveId)?.heldIn === dead, `${r} to converge on ${want} (has ${fleet(r)})`, 30_000);
        const back = await fetch(`${mesh.url(dead)}/v1/services/new-${dead}/`);
        expect(back.status).toBe(200);
      } finally {
        await Promise.all(workers.map((w) => w.close()));
        if (down) await mesh.revive(dead);
      }
      for (const r of REGIONS) await until(() => mesh.module(r).registry.workers().every((w) => !w.record.id.endsWith(`${dead}-${kind}`)), `the workers to leave ${r}`);
    }, 120_000);
  });
}
