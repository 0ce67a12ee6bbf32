/**
 * WebSocket frame fuzzing of a running node: valid frames from the protocol fixtures, their
 * structure-aware mutations (fields dropped, replaced, added), raw text mutations and random
 * bytes, on authenticated connections and during the handshake. The node must answer only valid
 * server frames and keep every authenticated connection open (abuse limits off in the target).
 */
import { encodeClientFrame } from '../../src/protocol/mod.js';
import { TestClient } from '../node/client.js';
import { clientFrames } from '../protocol/fixtures.js';
import { rng } from '../protocol/prng.js';
import type { Rng } from '../protocol/prng.js';

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

export interface FramesReport {
  readonly frames: number;
  readonly replies: number;
  readonly invalid: string[];
  /** Authenticated connections that closed during fuzzing (must be 0: abuse limits are off). */
  readonly authedCloses: number;
}

/** `count` frames in rounds of 1,000 per connection, half authenticated, half in the handshake. */
export async function fuzzFrames(wsUrl: string, opts: { seed: number; count: number; perConnection?: number }): Promise<FramesReport> {
  const r = rng(opts.seed);
  const per = opts.perConnection ?? 1000;
  const invalid: string[] = [];
  let authedCloses = 0;
  let replies = 0;
  let sent = 0;
  for (let round = 0; sent < opts.count; round++) {
    const c = await TestClient.open(wsUrl);
    const authed = round % 2 === 0;
    if (authed) {
      c.send({ type: 'auth', id: 'a', user: 'alice' });
      await c.next('welcome');
    }
    for (let i = 0; i < per && sent < opts.count && c.ws.readyState === c.ws.OPEN; i++, sent++) {
      const { data, binary } = input(r);
      c.raw(data, binary);
    }
    // A heartbeat at the end: once it is answered, everything before it was handled.
    if (c.ws.readyState === c.ws.OPEN) {
      c.send({ type: 'heartbeat', id: 'end' });
      const end = await Promise.race([c.answer('end', 10_000).then(() => 'answered'), c.closed.then(() => 'closed')]);
      if (end === 'closed' && authed) authedCloses++;
    } else if (authed) authedCloses++;
    await new Promise((res) => setTimeout(res, 20));
    replies += c.frames.length;
    invalid.push(...c.invalid);
    await c.close();
  }
  return { frames: sent, replies, invalid, authedCloses };
}
