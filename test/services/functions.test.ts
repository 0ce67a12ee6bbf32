/**
 * CloudEvents functions through the services module (embedded bus, real sockets): the official
 * `cloudevents` SDK as the client in binary and structured mode, invalid events, asynchronous
 * invocations polled to their end, the DLQ replay after the handler is fixed, round robin, and
 * the catalogue's desired vs live replicas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, HTTP, emitterFor, httpTransport, Mode } from 'cloudevents';
import { serve } from '../../src/worker/mod.js';
import type { Worker } from '../../src/worker/mod.js';
import { startMesh, TOKEN } from './mesh-env.js';
import type { Mesh } from './mesh-env.js';

const TOPOLOGY = `functions:
  greet:
    placement: { us-east: 2, eu-west: 1 }
  flaky:
    async: { maxAttempts: 3, backoffMs: 10 }
  rr:
    routing: round-robin
`;

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('functions (embedded bus, cloudevents SDK as the client)', () => {
  let mesh: Mesh;
  let dir: string;
  const workers: Worker[] = [];
  let broken = true;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mrd-fn-'));
    mesh = await startMesh({ kind: 'embedded', regions: ['us-east', 'eu-west'], extraTopology: TOPOLOGY, module: { dataDir: dir } });
    workers.push(
      await serve({
        node: mesh.url('us-east'),
        token: TOKEN,
        id: 'fn-us',
        handleSignals: false,
        functions: {
          greet: (e) => new CloudEvent({ type: 'greeting', source: '/fn-us', subject: e.subject ?? 'none', data: { hello: (e.data as { name: string }).name } }),
          flaky: () => {
            if (broken) throw new Error('handler bug: cannot parse order');
            return { fixed: true };
          },
          rr: () => ({ by: 'fn-us' }),
        },
      }),
      await serve({ node: mesh.url('eu-west'), token: TOKEN, id: 'fn-eu', handleSignals: false, functions: { rr: () => ({ by: 'fn-eu' }) } }),
    );
    await until(() => Promise.resolve(mesh.module('us-east').registry.functionInstances('rr').length === 2 ? true : undefined), 'both workers');
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await mesh.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a binary-mode event from the SDK emitter with the handler CloudEvent', async () => {
    const emit = emitterFor(httpTransport(`${mesh.url('eu-west')}/v1/functions/greet`), { mode: Mode.BINARY });
    const answer: unknown = await emit(new CloudEvent({ type: 'com.example.greet', source: '/tests', subject: 'conv-1', data: { name: 'Ada' } }));
    // httpTransport resolves with the fetch-like response; read the CloudEvent from it.
    const res = answer as { headers: Record<string, string>; body: unknown; status?: number };
    const ev = HTTP.toEvent({ headers: res.headers, body: res.body }) as CloudEvent<{ hello: string }>;
    expect(ev.type).toBe('greeting');
    expect(ev.subject).toBe('conv-1');
    expect(ev.data).toEqual({ hello: 'Ada' });
  });

  it('answers a structured-mode event in structured mode, naming who served it', async () => {
    const msg = HTTP.structured(new CloudEvent({ type: 'com.example.greet', source: '/tests', data: { name: 'Grace' } }));
    const res = await fetch(`${mesh.url('eu-west')}/v1/functions/greet`, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/cloudevents\+json/);
    expect(res.headers.get('x-meridian-region')).toBe('us-east');
    expect(res.headers.get('x-meridian-worker')).toBe('fn-us');
    const ev = HTTP.toEvent({ headers: Object.fromEntries(res.headers), body: await res.text() }) as CloudEvent<{ hello: string }>;
    expect(ev.data).toEqual({ hello: 'Grace' });
  });

  it('refuses invalid CloudEvents with 400 listing every missing attribute, and unknown functions with 404', async () => {
    const binary = await fetch(`${mesh.url('us-east')}/v1/functions/greet`, { method: 'POST', headers: { 'ce-type': 't', 'content-type': 'application/json' }, body: '{}' });
    expect(binary.status).toBe(400);
    const e1 = ((await binary.json()) as { error: { code: string; details: { problems: Array<{ path: string }> } } }).error;
    expect(e1.code).toBe('SVC_INVALID_EVENT');
    expect(e1.details.problems.map((p) => p.path)).toEqual(['id', 'source', 'specversion']);
    const structured = await fetch(`${mesh.url('us-east')}/v1/functions/greet`, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify({ specversion: '0.1', id: 'x', data: 1 }) });
    expect(structured.status).toBe(400);
    const e2 = ((await structured.json()) as { error: { details: { problems: Array<{ path: string }> } } }).error;
    expect(e2.details.problems.map((p) => p.path)).toEqual(['source', 'type', 'specversion']);
    const plain = await fetch(`${mesh.url('us-east')}/v1/functions/greet`, { method: 'POST', body: 'hello' });
    expect(plain.status).toBe(400);
    const unknown = HTTP.binary(new CloudEvent({ type: 't', source: '/s', data: {} }));
    const nf = await fetch(`${mesh.url('us-east')}/v1/functions/nope`, { method: 'POST', headers: unknown.headers as Record<string, string>, body: unknown.body as string });
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: { code: string } }).error.code).toBe('SVC_UNKNOWN_FUNCTION');
  });

  it('respond-async: 202 with an invocation to poll; exhausted attempts land in the DLQ; replay succeeds once the handler is fixed', async () => {
    broken = true;
    const msg = HTTP.binary(new CloudEvent({ type: 'order.placed', source: '/shop', id: 'order-42', data: { order: 42 } }));
    const res = await fetch(`${mesh.url('eu-west')}/v1/functions/flaky`, { method: 'POST', headers: { ...(msg.headers as Record<string, string>), prefer: 'respond-async' }, body: msg.body as string });
    expect(res.status).toBe(202);
    expect(res.headers.get('preference-applied')).toBe('respond-async');
    const inv = (await res.json()) as { id: string; status: string };
    expect(res.headers.get('location')).toBe(`/v1/invocations/${inv.id}`);
    const done = await until(async () => {
      const r = (await (await fetch(`${mesh.url('eu-west')}/v1/invocations/${inv.id}`)).json()) as { status: string; dlq?: string; attempts: unknown[] };
      return r.status === 'failed' ? r : undefined;
    }, 'the invocation to fail');
    expect(done.attempts).toHaveLength(3);
    expect(done.dlq).toBe(`/v1/dlq/${inv.id}`);

    const list = (await (await fetch(`${mesh.url('eu-west')}/v1/dlq?function=flaky`)).json()) as { kind: string; letters: Array<{ id: string }> };
    expect(list.kind).toBe('sqlite');
    expect(list.letters.map((l) => l.id)).toEqual([inv.id]);
    const letter = (await (await fetch(`${mesh.url('eu-west')}/v1/dlq/${inv.id}`)).json()) as { state: string; lastError: { message: string }; attempts: Array<{ status: number; worker: string }>; event: { attrs: Record<string, string> } };
    expect(letter.state).toBe('dead');
    expect(letter.lastError.message).toContain('handler bug');
    expect(letter.attempts.map((a) => [a.status, a.worker])).toEqual([
      [500, 'fn-us'],
      [500, 'fn-us'],
      [500, 'fn-us'],
    ]);
    expect(letter.event.attrs['id']).toBe('order-42');

    const again = await fetch(`${mesh.url('eu-west')}/v1/dlq/${inv.id}/replay`, { method: 'POST' });
    expect(again.status).toBe(502);
    broken = false;
    const replay = await fetch(`${mesh.url('eu-west')}/v1/dlq/${inv.id}/replay`, { method: 'POST' });
    expect(replay.status).toBe(200);
    const out = (await replay.json()) as { ok: boolean; letter: { state: string; replays: Array<{ ok: boolean }> }; result: { event: { data: unknown } } };
    expect(out.ok).toBe(true);
    expect(out.letter.state).toBe('replayed');
    expect(out.letter.replays.map((r) => r.ok)).toEqual([false, true]);
    expect(out.result.event.data).toEqual({ fixed: true });
    expect((await fetch(`${mesh.url('eu-west')}/v1/dlq/${inv.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${mesh.url('eu-west')}/v1/dlq/${inv.id}`)).status).toBe(404);
  });

  it('a successful async invocation carries the handler event in its result', async () => {
    const msg = HTTP.binary(new CloudEvent({ type: 'greet', source: '/t', data: { name: 'Lin' } }));
    const res = await fetch(`${mesh.url('us-east')}/v1/functions/greet`, { method: 'POST', headers: { ...(msg.headers as Record<string, string>), prefer: 'respond-async, wait=0' }, body: msg.body as string });
    const inv = (await res.json()) as { id: string };
    const done = await until(async () => {
      const r = (await (await fetch(`${mesh.url('us-east')}/v1/invocations/${inv.id}`)).json()) as { status: string; result?: { event: { type: string; data: unknown } } };
      return r.status === 'succeeded' ? r : undefined;
    }, 'success');
    expect(done.result!.event).toMatchObject({ type: 'greeting', data: { hello: 'Lin' } });
    expect((await fetch(`${mesh.url('us-east')}/v1/invocations/inv_nothing`)).status).toBe(404);
  });

  it('round robin alternates across every instance in every region', async () => {
    const by: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${mesh.url('us-east')}/v1/functions/rr`, { method: 'POST', headers: HTTP.binary(new CloudEvent({ type: 't', source: '/s' })).headers as Record<string, string> });
      expect(res.status).toBe(200);
      by.push(res.headers.get('x-meridian-worker')!);
    }
    expect(by.filter((w) => w === 'fn-us')).toHaveLength(3);
    expect(by.filter((w) => w === 'fn-eu')).toHaveLength(3);
    for (let i = 1; i < by.length; i++) expect(by[i]).not.toBe(by[i - 1]);
  });

  it('shows desired vs live replicas per region', async () => {
    const body = (await (await fetch(`${mesh.url('eu-west')}/v1/functions`)).json()) as { functions: Array<{ name: string; desired: number; live: number; regions: Array<{ region: string; desired: number; live: number; missing: number }> }> };
    const greet = body.functions.find((f) => f.name === 'greet')!;
    expect(greet).toMatchObject({ desired: 3, live: 1 });
    expect(greet.regions.filter((r) => r.desired > 0 || r.live > 0)).toEqual([
      { region: 'us-east', desired: 2, live: 1, missing: 1 },
      { region: 'eu-west', desired: 1, live: 0, missing: 1 },
    ]);
    expect(body.functions.find((f) => f.name === 'rr')).toMatchObject({ desired: 0, live: 2 });
  });
});
