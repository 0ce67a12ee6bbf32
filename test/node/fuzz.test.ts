// Fuzzing the node over a real socket: thousands of random and mutated frames, before and after
// authentication. The node must stay healthy, answer only valid server frames, and keep serving.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeClientFrame } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { clientFrames } from '../protocol/fixtures.js';
import { rng } from '../protocol/prng.js';
import type { Rng } from '../protocol/prng.js';
import { TestClient } from './client.js';
import { oneRegion } from './fixtures.js';

const KEYS = ['type', 'id', 'to', 'user', 'room', 'body', 'clientMsgId', 'conversation', 'seq', 'positions', 'fromSeq', 'toSeq', 'token', '__proto__', 'constructor'];
const CHARS = ['{', '}', '[', ']', '"', ':', ',', '\\', 'u', '0', '-', 'é', '😀', '\ud800', 'null', '"id"', '"type"'];

function randomJson(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 5 : 8)) {
    case 0: return null;
    case 1: return r.next() < 0.5;
    case 2: return r.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2, 7, 3]);
    case 3: return r.pick(['', 'a', 'x'.repeat(200), 'dm:alice:bob', 'room:r', '\u0000', 'send', 'fuzz']);
    case 4: return r.pick(['auth', 'send', 'resume', 'join', 'retransmit', 'heartbeat', 'nope']);
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.pick(KEYS)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

function mutate(r: Rng, frame: unknown): string {
  if (r.next() < 0.5) {
    const copy = JSON.parse(JSON.stringify(frame)) as Record<string, unknown>;
    const keys = Object.keys(copy);
    const op = r.int(3);
    if (op === 0 && keys.length > 0) delete copy[r.pick(keys)];
    else if (op === 1 && keys.length > 0) copy[r.pick(keys)] = randomJson(r);
    else copy[r.pick(KEYS)] = randomJson(r);
    return JSON.stringify(copy);
  }
  const s = encodeClientFrame(frame as never);
  const at = r.int(s.length + 1);
  return r.next() < 0.5 ? s.slice(0, at) + r.pick(CHARS) + s.slice(at + 1) : s.slice(0, at);
}

function input(r: Rng): { data: string | Buffer; binary: boolean } {
  switch (r.int(5)) {
    case 0: {
      const b = Buffer.alloc(r.int(64));
      for (let i = 0; i < b.length; i++) b[i] = r.int(256);
      return { data: b, binary: r.next() < 0.3 };
    }
    case 1: return { data: JSON.stringify(randomJson(r)), binary: false };
    case 2: return { data: encodeClientFrame(r.pick(clientFrames)), binary: false };
    default: return { data: mutate(r, r.pick(clientFrames)), binary: false };
  }
}

let d: Deployment;
beforeAll(async () => {
  d = await startEmbeddedDeployment(oneRegion(), {
    dataDir: ':memory:',
    region: { node: { rateLimit: { ratePerSec: 100_000, burst: 100_000 }, abuseBurst: 1_000_000, abuseRatePerSec: 1_000_000 } },
  });
});
afterAll(async () => {
  await d?.close();
});

it('stays healthy through 20,000 random and mutated frames, answering only valid frames', async () => {
  const r = rng(424242);
  const url = d.wsUrl('solo');
  const invalid: string[] = [];
  let authedCloses = 0;
  let replies = 0;
  for (let round = 0; round < 20; round++) {
    const c = await TestClient.open(url);
    // Half the rounds fuzz an authenticated connection, half the handshake.
    if (round % 2 === 0) {
      c.send({ type: 'auth', id: 'a', user: 'alice' });
      await c.next('welcome');
    }
    for (let i = 0; i < 1000 && c.ws.readyState === c.ws.OPEN; i++) {
      const { data, binary } = input(r);
      c.raw(data, binary);
    }
    // A heartbeat at the end: once it is answered, everything before it was handled.
    if (c.ws.readyState === c.ws.OPEN) {
      c.send({ type: 'heartbeat', id: 'end' });
      const end = await Promise.race([c.answer('end', 10_000).then(() => 'answered'), c.closed.then(() => 'closed')]);
      if (end === 'closed' && round % 2 === 0) authedCloses++;
    } else if (round % 2 === 0) authedCloses++;
    await new Promise((res) => setTimeout(res, 50));
    replies += c.frames.length;
    invalid.push(...c.invalid);
    await c.close();
  }
  expect(invalid).toEqual([]);
  expect(replies).toBeGreaterThan(10_000);
  // Unauthenticated rounds may end in an auth failure (a fuzzed token); authenticated ones must
  // survive everything (abuse limits are off here; the policy close is tested on its own).
  expect(authedCloses).toBe(0);
  expect((await fetch(`${d.urls['solo']}/health`)).status).toBe(200);
  expect((await fetch(`${d.urls['solo']}/ready`)).status).toBe(200);
  const after = await TestClient.dev(url, 'after-fuzz');
  expect(await after.request({ type: 'send', id: 's', to: { user: 'bob' }, body: 'still here', clientMsgId: 'k' })).toMatchObject({ type: 'ack' });
  await after.close();
}, 60_000);
