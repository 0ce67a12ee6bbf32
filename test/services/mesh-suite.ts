/**
 * Cross-region behaviour of the services module, run on the embedded bus and on the 3-region
 * NATS super-cluster: transparent failover when the local worker process is killed without
 * deregistering, graceful SIGTERM (drain, then deregister), affinity that moves a key only when
 * its instance dies, an in-process function called from another region, and an async
 * invocation dead-lettered in one region (the bus-KV DLQ: JetStream on NATS) and replayed there
 * against a worker in another once its handler is fixed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloudEvent, HTTP } from 'cloudevents';
import { serve } from '../../src/worker/mod.js';
import { startChildWorker } from './child.js';
import type { ChildWorker } from './child.js';
import { register, seesEndpoints, standIn, startMesh, TOKEN } from './mesh-env.js';
import type { BusKind, Mesh, StandIn } from './mesh-env.js';

const FUNCTIONS = `functions:
  whoami: {}
  sticky:
    routing: affinity
    placement: { us-east: 1, eu-west: 1, ap-southeast: 1 }
  inproc:
    placement: { eu-west: 2 }
  flaky:
    async: { maxAttempts: 2, backoffMs: 10 }
`;

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function callFn(node: string, fn: string, attrs: Record<string, string>, data: unknown = {}): Promise<Response> {
  const msg = HTTP.binary(new CloudEvent({ type: 'test.call', source: '/tests', ...attrs, data }));
  return fetch(`${node}/v1/functions/${fn}`, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
}

export function runMeshSuite(kind: BusKind): void {
  describe(`services mesh across regions (${kind})`, () => {
    let mesh: Mesh;
    const children: ChildWorker[] = [];
    const stands: StandIn[] = [];
    beforeAll(async () => {
      mesh = await startMesh({ kind, extraTopology: FUNCTIONS, module: { registry: { heartbeatIntervalMs: 1000, missedHeartbeats: 10, sweepIntervalMs: 0 } } });
    }, 60_000);
    afterEach(() => {
      for (const c of children.splice(0)) c.kill('SIGKILL');
    });
    afterAll(async () => {
      await Promise.all(stands.map((s) => s.close()));
      await mesh?.close();
    });

    it('fails over to the nearest region when the local worker process is killed without deregistering', async () => {
      const us = await startChildWorker(mesh.url('us-east'), `fo-us-${kind}`);
      const ap = await startChildWorker(mesh.url('ap-southeast'), `fo-ap-${kind}`);
      const eu = await startChildWorker(mesh.url('eu-west'), `fo-eu-${kind}`);
      children.push(us, ap, eu);
      await seesEndpoints(mesh, 'us-east', 'echo', 3);
      const first = await fetch(`${mesh.url('us-east')}/v1/services/echo/`);
      expect(first.headers.get('x-meridian-region')).toBe('us-east');
      expect(((await first.json()) as { id: string }).id).toBe(`fo-us-${kind}`);

      us.kill('SIGKILL');
      await us.exited;
      // Still registered and healthy in the view: nobody told the registry.
      expect(mesh.module('us-east').registry.endpoints('echo').map((e) => e.workerId)).toContain(`fo-us-${kind}`);
      for (let i = 0; i < 10; i++) {
        const method = i % 2 === 0 ? 'GET' : 'POST';
        const res = await fetch(`${mesh.url('us-east')}/v1/services/echo/?i=${i}`, { method, ...(method === 'POST' ? { body: `n${i}` } : {}) });
        expect(res.status).toBe(200);
        // eu-west is 8 ms away, ap-southeast 30 ms: the nearest healthy region serves.
        expect(res.headers.get('x-meridian-region')).toBe('eu-west');
        const body = (await res.json()) as { id: string; body: string };
        expect(body.id).toBe(`fo-eu-${kind}`);
        if (method === 'POST') expect(body.body).toBe(`n${i}`);
      }
    }, 60_000);

    it('on SIGTERM a worker finishes in-flight requests, then deregisters', async () => {
      const w = await startChildWorker(mesh.url('eu-west'), `term-${kind}`);
      children.push(w);
      await seesEndpoints(mesh, 'eu-west', 'echo', mesh.module('eu-west').registry.endpoints('echo').length);
      await waitUntil(() => mesh.module('eu-west').registry.endpoints('echo').some((e) => e.workerId === `term-${kind}`), 'the worker in the view');
      // Pin the request to this worker: it is the only one with a slow answer we wait for.
      const ep = mesh.module('eu-west').registry.endpoints('echo').find((e) => e.workerId === `term-${kind}`)!;
      const slow = fetch(`${ep.url}/?delay=600`);
      await new Promise((r) => setTimeout(r, 150));
      w.kill('SIGTERM');
      const res = await slow;
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(`term-${kind}`);
      expect(await w.exited).toBe(0);
      await waitUntil(() => !mesh.module('ap-southeast').registry.workers().some((x) => x.record.id === `term-${kind}`), 'the deregistration to reach ap-southeast', 5000);
    }, 60_000);

    it('affinity keeps a key on one instance from every region and moves it only when that instance dies', async () => {
      const owners = ['us-east', 'eu-west', 'ap-southeast'];
      const made = await Promise.all(
        owners.map(async (region) => {
          const id = `aff-${region}-${kind}`;
          const s = await standIn((req, res) => {
            req.resume();
            req.on('end', () => {
              const m = HTTP.binary(new CloudEvent({ type: 'test.answer', source: `/w/${id}`, data: { worker: id } }));
              res.writeHead(200, m.headers as Record<string, string>).end(m.body as string);
            });
          });
          stands.push(s);
          const r = await register(mesh.url(region), { id, services: [], functions: [{ name: 'sticky', url: `${s.url}/fn/sticky` }] });
          expect(r.status).toBe(201);
          return { id, s };
        }),
      );
      for (const r of owners) await waitUntil(() => mesh.module(r).registry.functionInstances('sticky').length === 3, `${r} sees 3 sticky instances`);
      const ownerOf = async (key: string, region: string): Promise<string> => {
        const res = await callFn(mesh.url(region), 'sticky', { partitionkey: key });
        expect(res.status).toBe(200);
        return res.headers.get('x-meridian-worker')!;
      };
      const keys = Array.from({ length: 24 }, (_, i) => `conv-${i}`);
      const before = new Map<string, string>();
      for (const k of keys) {
        const o = await ownerOf(k, 'us-east');
        before.set(k, o);
        expect(await ownerOf(k, 'ap-southeast')).toBe(o);
        expect(await ownerOf(k, 'us-east')).toBe(o);
      }
      // Rendezvous hashing spreads keys: more than one instance owns some.
      expect(new Set(before.values()).size).toBeGreaterThan(1);
      const victim = made.find((m) => [...before.values()].includes(m.id))!;
      await victim.s.close();
      for (const k of keys) {
        const now = await ownerOf(k, 'eu-west');
        if (before.get(k) === victim.id) expect(now).not.toBe(victim.id);
        else expect(now).toBe(before.get(k));
      }
    }, 60_000);

    it('a failed async invocation is dead-lettered in the accepting region and replays against a worker elsewhere once fixed', async () => {
      let broken = true;
      const w = await serve({
        node: mesh.url('ap-southeast'),
        token: TOKEN,
        id: `flaky-${kind}`,
        handleSignals: false,
        functions: {
          flaky: (e) => {
            if (broken) throw new Error('not yet');
            return { ok: e.data };
          },
        },
      });
      try {
        await waitUntil(() => mesh.module('us-east').registry.functionInstances('flaky').length === 1, 'us-east sees the flaky worker');
        const msg = HTTP.binary(new CloudEvent({ type: 'job', source: '/tests', data: { job: 1 } }));
        const res = await fetch(`${mesh.url('us-east')}/v1/functions/flaky`, { method: 'POST', headers: { ...(msg.headers as Record<string, string>), prefer: 'respond-async' }, body: msg.body as string });
        expect(res.status).toBe(202);
        const { id } = (await res.json()) as { id: string };
        let letter: { state: string; attempts: Array<{ region: string; status: number }> } | undefined;
        const end = Date.now() + 15_000;
        while (Date.now() < end) {
          const r = await fetch(`${mesh.url('us-east')}/v1/dlq/${id}`);
          if (r.status === 200) {
            letter = (await r.json()) as typeof letter;
            break;
          }
          await new Promise((x) => setTimeout(x, 50));
        }
        expect(letter?.state).toBe('dead');
        expect(letter!.attempts.map((a) => [a.region, a.status])).toEqual([
          ['ap-southeast', 500],
          ['ap-southeast', 500],
        ]);
        broken = false;
        const replay = await fetch(`${mesh.url('us-east')}/v1/dlq/${id}/replay`, { method: 'POST' });
        expect(replay.status).toBe(200);
        const out = (await replay.json()) as { letter: { state: string }; result: { region: string; event: { data: unknown } } };
        expect(out.letter.state).toBe('replayed');
        expect(out.result.region).toBe('ap-southeast');
        expect(out.result.event.data).toEqual({ ok: { job: 1 } });
      } finally {
        await w.close();
      }
    }, 60_000);

    it('an in-process function in one region answers callers in another, through the bus', async () => {
      const w = await serve({ node: mesh.module('eu-west'), id: `inproc-${kind}`, functions: { inproc: (e) => ({ echoed: e.data, in: 'eu-west' }) }, handleSignals: false });
      try {
        await waitUntil(() => mesh.module('ap-southeast').registry.functionInstances('inproc').length === 1, 'ap-southeast sees the in-process instance');
        const msg = HTTP.structured(new CloudEvent({ type: 'test.call', source: '/tests', data: { n: 7 } }));
        const res = await fetch(`${mesh.url('ap-southeast')}/v1/functions/inproc`, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-meridian-region')).toBe('eu-west');
        const out = HTTP.toEvent({ headers: Object.fromEntries(res.headers), body: await res.text() }) as CloudEvent<{ echoed: { n: number }; in: string }>;
        expect(out.data).toEqual({ echoed: { n: 7 }, in: 'eu-west' });
        const fns = (await (await fetch(`${mesh.url('us-east')}/v1/functions`)).json()) as { functions: Array<{ name: string; regions: Array<{ region: string; desired: number; live: number; missing: number }> }> };
        expect(fns.functions.find((f) => f.name === 'inproc')!.regions.find((r) => r.region === 'eu-west')).toEqual({ region: 'eu-west', desired: 2, live: 1, missing: 1 });
      } finally {
        await w.close();
      }
      await waitUntil(() => mesh.module('ap-southeast').registry.functionInstances('inproc').length === 0, 'the in-process worker to leave');
    }, 60_000);
  });
}
