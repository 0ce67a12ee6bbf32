/**
 * Fuzzing the client frame parser with a seeded PRNG: random bytes, random JSON, and mutations of
 * every valid fixture. The parser must never throw, every failure must be a well-formed `error`
 * frame with a known code, and `ref` must be the frame's id whenever the frame is an object with
 * a valid id.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, RequestError, encodeClientFrame, parseClientFrame, resolveLimits, serverFrameSchemas } from '../../src/protocol/mod.js';
import type { ClientParseResult, ProtocolLimits } from '../../src/protocol/mod.js';
import { clientFrames } from './fixtures.js';
import { rng } from './prng.js';
import type { Rng } from './prng.js';

const CHARS = ['{', '}', '[', ']', '"', ':', ',', '\\', 'u', '0', '1', '-', '.', 'e', 'a', 'z', ' ', '\n', 'é', '😀', '\ud800', 'null', 'true', '"id"', '"type"', '"send"'];
const KEYS = ['type', 'id', 'to', 'user', 'room', 'body', 'clientMsgId', 'conversation', 'seq', 'positions', 'fromSeq', 'toSeq', 'token', '__proto__', 'constructor'];

function randomJson(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 4 ? 6 : 9)) {
    case 0: return null;
    case 1: return r.next() < 0.5;
    case 2: return r.pick([0, -1, 1.5, 1e308, -0, Number.MAX_SAFE_INTEGER + 2, 7]);
    case 3: return r.pick(['', 'a', 'x'.repeat(200), 'dm:alice:bob', 'room:r', '\u0000', 'send', 'a:b%']);
    case 4: return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    case 5: return r.pick(['auth', 'send', 'resume', 'heartbeat', 'nope']);
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.pick(KEYS)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

function mutateText(r: Rng, s: string): string {
  const at = r.int(s.length + 1);
  switch (r.int(5)) {
    case 0: return s.slice(0, at) + s.slice(at + 1 + r.int(4));
    case 1: return s.slice(0, at) + r.pick(CHARS) + s.slice(at);
    case 2: return s.slice(0, at);
    case 3: return s.slice(0, at) + r.pick(CHARS) + s.slice(at + 1);
    default: return s + s.slice(at);
  }
}

function mutateValue(r: Rng, frame: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(frame)) as Record<string, unknown>;
  let target: Record<string, unknown> = copy;
  // Walk into a nested object now and then so paths like to.user and positions.* get hit.
  for (const v of Object.values(copy)) if (typeof v === 'object' && v !== null && !Array.isArray(v) && r.next() < 0.3) target = v as Record<string, unknown>;
  const keys = Object.keys(target);
  const op = r.int(3);
  if (op === 0 && keys.length > 0) delete target[r.pick(keys)];
  else if (op === 1 && keys.length > 0) target[r.pick(keys)] = randomJson(r);
  else target[r.pick(KEYS)] = randomJson(r);
  return copy;
}

function randomBytes(r: Rng): Uint8Array {
  const b = new Uint8Array(r.int(64));
  for (let i = 0; i < b.length; i++) b[i] = r.int(256);
  return b;
}

const ERROR_CODES: ReadonlySet<number> = new Set(Object.values(RequestError));

/** What is wrong with a parse result, or undefined. Plain checks: 60,000 `expect`s would dominate the run. */
function problem(input: string | Uint8Array, result: ClientParseResult, limits: ProtocolLimits): string | undefined {
  if (result.ok) {
    // A frame that parsed must re-encode to something that parses to the same frame.
    const again = parseClientFrame(encodeClientFrame(result.frame), limits);
    return JSON.stringify(again) === JSON.stringify(result) ? undefined : 'accepted frame does not round-trip';
  }
  const e = result.error;
  if (!serverFrameSchemas.error.safeParse(e).success) return 'error frame does not match the error schema';
  if (!ERROR_CODES.has(e.code) || RequestError[e.name as keyof typeof RequestError] !== e.code) return `unknown code ${e.code} ${e.name}`;
  if (result.ref !== e.ref) return 'result.ref differs from error.ref';
  if (e.ref !== undefined && e.ref.length > limits.maxRefLength) return 'ref too long';
  // Whenever the input parses to an object with a valid id, the error must carry it.
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  if (text.length <= limits.maxFrameBytes && e.name !== 'BAD_FRAME') {
    let id: unknown;
    try {
      id = (JSON.parse(text) as Record<string, unknown>).id;
    } catch {
      return `${e.name} for a frame that is not JSON`;
    }
    // eslint-disable-next-line no-control-regex
    if (typeof id === 'string' && id.length > 0 && id.length <= limits.maxRefLength && !/[\u0000-\u001f\u007f]/.test(id) && e.ref !== id) return `ref ${String(e.ref)} instead of ${id}`;
  }
  return undefined;
}

describe('fuzz', () => {
  it('parseClientFrame never throws on 60,000 random and mutated frames, and every error is valid', () => {
    const r = rng(20240601);
    const seeds = clientFrames.map((f) => encodeClientFrame(f));
    const small = resolveLimits({ maxFrameBytes: 300, maxBodyBytes: 40, maxBodyDepth: 3, maxIdLength: 8, maxRefLength: 6 });
    const counts = { ok: 0, error: 0 };
    const failures: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      const limits = i % 4 === 0 ? small : DEFAULT_LIMITS;
      let input: string | Uint8Array;
      switch (i % 5) {
        case 0: input = randomBytes(r); break;
        case 1: input = JSON.stringify(randomJson(r)); break;
        case 2: input = mutateText(r, r.pick(seeds)); break;
        case 3: input = JSON.stringify(mutateValue(r, r.pick(clientFrames))); break;
        default: input = r.next() < 0.5 ? r.pick(seeds) : Buffer.from(mutateText(r, mutateText(r, r.pick(seeds))));
      }
      let result: ClientParseResult;
      try {
        result = parseClientFrame(input, limits);
      } catch (err) {
        failures.push(`threw ${String(err)} on ${JSON.stringify(String(input)).slice(0, 200)}`);
        continue;
      }
      const p = problem(input, result, limits);
      if (p !== undefined && failures.length < 10) failures.push(`${p}: ${JSON.stringify(typeof input === 'string' ? input : Buffer.from(input).toString('latin1')).slice(0, 200)}`);
      counts[result.ok ? 'ok' : 'error']++;
    }
    expect(failures).toEqual([]);
    // The mix must exercise both outcomes, or the fuzzer tests nothing.
    expect(counts.ok).toBeGreaterThan(5_000);
    expect(counts.error).toBeGreaterThan(20_000);
  });

  it('survives pathological nesting and huge numbers of keys', () => {
    const deep = `{"type":"send","id":"d","to":{"user":"b"},"clientMsgId":"c","body":${'['.repeat(70_000)}${']'.repeat(70_000)}}`;
    expect(parseClientFrame(deep)).toMatchObject({ ok: false, error: { name: 'FRAME_TOO_LARGE', ref: 'd' } });
    const deepFits = `{"type":"send","id":"d","to":{"user":"b"},"clientMsgId":"c","body":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    expect(parseClientFrame(deepFits)).toMatchObject({ ok: false, error: { name: 'INVALID_FIELD', path: 'body', ref: 'd' } });
    const keys = `{"type":"resume","id":"k","positions":{${Array.from({ length: 5000 }, (_, i) => `"room:r${i}":1`).join(',')}}}`;
    expect(parseClientFrame(keys)).toMatchObject({ ok: false, error: { name: 'INVALID_FIELD', path: 'positions', ref: 'k' } });
  });
});
