/**
 * WebSocket frame fuzzing of a running node: frames generated from the protocol's zod schemas
 * (schema-frames.ts) and the protocol fixtures, their structure-aware mutations (fields dropped,
 * replaced, added), raw text mutations and random bytes, on authenticated connections and during
 * the handshake. The rules: the node answers only valid server frames, keeps every authenticated
 * connection open (abuse limits are off in the target), answers a heartbeat after each round,
 * and /health answers every `healthEvery` frames throughout (a hang fails the round instead of
 * hanging the run).
 *
 * A failing round is returned with its inputs (seed, round, index, data as base64), which
 * `npm run fuzz` narrows down and saves as test/fuzz/regressions/frames-*.json; the suite replays
 * every saved file with `replayFrames`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { DEFAULT_LIMITS, encodeClientFrame } from '../../src/protocol/mod.js';
import { TestClient } from '../node/client.js';
import { clientFrames } from '../protocol/fixtures.js';
import { rng } from '../protocol/prng.js';
import type { Rng } from '../protocol/prng.js';
import { schemaFrames } from './schema-frames.js';

const KEYS = ['type', 'id', 'to', 'user', 'room', 'body', 'clientMsgId', 'conversation', 'seq', 'positions', 'fromSeq', 'toSeq', 'token', '__proto__', 'constructor'];
const CHARS = ['{', '}', '[', ']', '"', ':', ',', '\\', 'u', '0', '-', 'é', '😀', '\ud800', 'null', '"id"', '"type"'];
/** The target's nodes run the default limits. */
const SCHEMA = schemaFrames(DEFAULT_LIMITS);

function randomJson(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 5 : 8)) {
    case 0: return null;
    case 1: return r.next() < 0.5;
    case 2: return r.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2, 7, 3]);
    case 3: return r.pick(['', 'a', 'x'.repeat(200), 'dm:alice:bob', 'room:r', '\u0000', 'send', 'fuzz']);
    case 4: return r.pick(SCHEMA.types);
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.pick(KEYS)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

function mutate(r: Rng, frame: object): string {
  if (r.next() < 0.5) {
    const copy = JSON.parse(JSON.stringify(frame)) as Record<string, unknown>;
    const keys = Object.keys(copy);
    const op = r.int(3);
    if (op === 0 && keys.length > 0) delete copy[r.pick(keys)];
    else if (op === 1 && keys.length > 0) copy[r.pick(keys)] = randomJson(r);
    else copy[r.pick(KEYS)] = randomJson(r);
    return JSON.stringify(copy);
  }
  const s = JSON.stringify(frame);
  const at = r.int(s.length + 1);
  return r.next() < 0.5 ? s.slice(0, at) + r.pick(CHARS) + s.slice(at + 1) : s.slice(0, at);
}

export interface FrameInput {
  readonly data: string | Buffer;
  readonly binary: boolean;
}

function input(r: Rng): FrameInput {
  switch (r.int(8)) {
    case 0: {
      const b = Buffer.alloc(r.int(64));
      for (let i = 0; i < b.length; i++) b[i] = r.int(256);
      return { data: b, binary: r.next() < 0.3 };
    }
    case 1: return { data: JSON.stringify(randomJson(r)), binary: false };
    case 2: return { data: encodeClientFrame(r.pick(clientFrames)), binary: false };
    case 3: return { data: mutate(r, r.pick(clientFrames)), binary: false };
    case 4: return { data: mutate(r, SCHEMA.frame(r)), binary: false };
    default: return { data: JSON.stringify(SCHEMA.frame(r)), binary: false };
  }
}

/** Where frames go: the node's WebSocket URL and its base URL for /health. */
export interface FramesTarget {
  readonly devWsUrl: string;
  readonly devUrl: string;
}

/** One input of a failing round, as saved: `index` is its place in the round. */
export interface SavedFrame {
  readonly index: number;
  /** The frame's bytes as base64 (they may be invalid UTF-8). */
  readonly data: string;
  readonly binary: boolean;
}

export interface FrameFailure {
  readonly seed: number;
  readonly round: number;
  /** Whether the round's connection authenticated before the inputs. */
  readonly authed: boolean;
  readonly reason: string;
  /** The round's inputs up to the one after which it failed. */
  readonly frames: readonly SavedFrame[];
}

export interface FramesReport {
  readonly frames: number;
  readonly replies: number;
  /** At most 20: the run stops there. */
  readonly failures: FrameFailure[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** /health answers 200 within `ms` (a hung node does not). */
async function healthy(url: string, ms = 3000): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(ms) })).ok;
  } catch {
    return false;
  }
}

function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

interface RoundResult {
  /** Why the round broke a rule, or undefined. */
  readonly reason: string | undefined;
  /** Inputs sent before it ended (all of them unless it failed early). */
  readonly sent: number;
  readonly replies: number;
}

/**
 * One connection: authenticate (or not), send `inputs`, probe /health every `healthEvery`
 * frames (counted from `offset`, so the probes keep their rhythm across rounds), then a heartbeat
 * that must be answered once everything before it was handled.
 */
export async function playRound(t: FramesTarget, authed: boolean, inputs: readonly FrameInput[], o: { healthEvery?: number; offset?: number } = {}): Promise<RoundResult> {
  const every = o.healthEvery ?? 500;
  const offset = o.offset ?? 0;
  const opened = await within(TestClient.open(t.devWsUrl).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))), 10_000);
  if (opened === 'timeout') return { reason: 'hang: the WebSocket upgrade was not answered in 10 s', sent: 0, replies: 0 };
  if (opened instanceof Error) return { reason: `the WebSocket upgrade failed: ${opened.message}`, sent: 0, replies: 0 };
  const c = opened;
  let reason: string | undefined;
  let sent = 0;
  try {
    if (authed) {
      c.send({ type: 'auth', id: 'a', user: 'alice' });
      if ((await within(c.next('welcome', undefined, 10_000).then(() => 'ok', (err: unknown) => String(err)), 11_000)) !== 'ok') {
        return { reason: 'the dev handshake did not complete', sent: 0, replies: c.frames.length };
      }
    }
    for (const f of inputs) {
      if (c.ws.readyState !== c.ws.OPEN) break;
      c.raw(f.data, f.binary);
      sent++;
      if ((offset + sent) % every === 0 && !(await healthy(t.devUrl))) {
        reason = `hang: /health did not answer within 3 s after frame ${sent - 1} of the round`;
        break;
      }
    }
    if (reason === undefined && c.ws.readyState === c.ws.OPEN) {
      // A heartbeat at the end: once it is answered, everything before it was handled.
      c.send({ type: 'heartbeat', id: 'end' });
      const end = await Promise.race([c.answer('end', 10_000).then(() => 'answered', () => 'unanswered'), c.closed.then(() => 'closed')]);
      if (end === 'unanswered') reason = `hang: no answer to a heartbeat within 10 s after ${sent} frames`;
      else if (end === 'closed' && authed) reason = `authenticated connection closed: ${JSON.stringify(await c.closed)}`;
    } else if (reason === undefined && authed) {
      reason = `authenticated connection closed after ${sent} frames: ${JSON.stringify(await within(c.closed, 1000))}`;
    }
    await sleep(20);
    if (reason === undefined && c.invalid.length > 0) reason = `invalid server frame: ${c.invalid[0]!}`;
    return { reason, sent, replies: c.frames.length };
  } finally {
    // A hung node may never finish the closing handshake.
    if ((await within(c.close(), 2000)) === 'timeout') c.ws.terminate();
  }
}

function saved(inputs: readonly FrameInput[], from = 0): SavedFrame[] {
  return inputs.map((f, i) => ({ index: from + i, data: Buffer.from(f.data).toString('base64'), binary: f.binary }));
}

/** `count` seeded frames in rounds of `perConnection` (1,000), half authenticated, half in the handshake. */
export async function fuzzFrames(t: FramesTarget, opts: { seed: number; count: number; perConnection?: number; healthEvery?: number }): Promise<FramesReport> {
  const r = rng(opts.seed);
  const per = opts.perConnection ?? 1000;
  const failures: FrameFailure[] = [];
  let replies = 0;
  let sent = 0;
  for (let round = 0; sent < opts.count && failures.length < 20; round++) {
    const authed = round % 2 === 0;
    const inputs: FrameInput[] = [];
    for (let i = 0; i < per && sent + i < opts.count; i++) inputs.push(input(r));
    const res = await playRound(t, authed, inputs, { offset: sent, ...(opts.healthEvery === undefined ? {} : { healthEvery: opts.healthEvery }) });
    replies += res.replies;
    if (res.reason !== undefined) failures.push({ seed: opts.seed, round, authed, reason: res.reason, frames: saved(inputs.slice(0, Math.max(res.sent, 1))) });
    // Inputs a closed connection never took are still counted: the seed's sequence is fixed.
    sent += inputs.length;
  }
  return { frames: sent, replies, failures };
}

/** Saved bytes go back as they were sent: `ws` sends a string as its UTF-8 bytes, the same as these. */
function decode(f: SavedFrame): FrameInput {
  return { data: Buffer.from(f.data, 'base64'), binary: f.binary };
}

/** Replay a failing round's saved inputs on a fresh connection: the reason it still fails, or undefined. */
export async function replayFrames(t: FramesTarget, f: Pick<FrameFailure, 'authed' | 'frames'>): Promise<string | undefined> {
  return (await playRound(t, f.authed, f.frames.map(decode), { healthEvery: 50 })).reason;
}

/**
 * The smallest prefix of a failing round that still fails on a fresh connection (bisected), and
 * its last input alone when that is enough. The whole round when even that does not reproduce
 * (the failure depended on earlier rounds): saved anyway, marked so.
 */
export async function narrow(t: FramesTarget, f: FrameFailure): Promise<FrameFailure & { readonly reproduced: boolean }> {
  if ((await replayFrames(t, f)) === undefined) return { ...f, reproduced: false };
  let lo = 1;
  let hi = f.frames.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((await replayFrames(t, { authed: f.authed, frames: f.frames.slice(0, mid) })) !== undefined) hi = mid;
    else lo = mid + 1;
  }
  const last = f.frames.slice(hi - 1, hi);
  if ((await replayFrames(t, { authed: f.authed, frames: last })) !== undefined) return { ...f, frames: last, reproduced: true };
  return { ...f, frames: f.frames.slice(0, hi), reproduced: true };
}

/** The file format of test/fuzz/regressions/frames-*.json. */
export interface FrameRegression {
  readonly found: string;
  readonly seed: number;
  readonly round: number;
  readonly authed: boolean;
  readonly frames: readonly SavedFrame[];
}

export function saveFrameRegression(file: string, f: FrameFailure & { readonly reproduced: boolean }): void {
  const r: FrameRegression = { found: `${new Date().toISOString().slice(0, 10)}, seed ${f.seed} round ${f.round}: ${f.reason}${f.reproduced ? '' : ' (did not reproduce on a fresh connection: the whole round is kept)'}`, seed: f.seed, round: f.round, authed: f.authed, frames: f.frames };
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
}

export function loadFrameRegression(file: string): FrameRegression {
  const r = JSON.parse(readFileSync(file, 'utf8')) as FrameRegression;
  const frames: readonly Partial<SavedFrame>[] = Array.isArray(r.frames) ? r.frames : [];
  if (typeof r.authed !== 'boolean' || frames.length === 0 || frames.some((f) => typeof f.data !== 'string' || typeof f.binary !== 'boolean' || !Number.isInteger(f.index))) {
    throw new Error(`${file}: not a frames regression ({ found, seed, round, authed, frames: [{ index, data, binary }] })`);
  }
  return r;
}
