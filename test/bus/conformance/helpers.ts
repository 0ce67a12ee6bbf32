/**
 * Shared pieces of the bus conformance suite: the context every group of tests gets, unique
 * names so tests sharing one fabric never see each other's traffic, and polling helpers.
 *
 * Readiness is established by probing, never by sleeping: on NATS a new subscription's interest
 * takes a moment to cross the gateways, so a test publishes probe messages (marked with a header
 * and ignored by assertions) until every subscriber has seen one, then starts for real.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { isMeridianError } from '../../../src/errors/mod.js';
import type { ErrorCode, MeridianError } from '../../../src/errors/mod.js';
import type { Bus, BusMessage, KvEntry, KvWatch, SubscribeOptions, Subscription } from '../../../src/bus/types.js';
import type { BusFabric, FabricFactory } from '../fabric.js';

export interface SuiteContext {
  /** The fabric, available inside tests and hooks (created in the suite's beforeAll). */
  readonly fabric: BusFabric;
  /** The suite's shared bus for region index `i` (0, 1, 2 = the fabric's first three regions). */
  bus(i: number): Bus;
  region(i: number): string;
  /** Register a test, or skip it with its reason when the factory lists it as a known difference. */
  test(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
}

export function makeTest(factory: FabricFactory): SuiteContext['test'] {
  return (name, fn, timeoutMs) => {
    const known = factory.knownDifferences?.find((d) => d.test === name);
    if (known) it.skip(`${name} [known difference: ${known.reason}]`, fn);
    else it(name, fn, timeoutMs);
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const enc = (s: string): Uint8Array => encoder.encode(s);
export const dec = (b: Uint8Array): string => decoder.decode(b);

const rnd = (): string => randomBytes(6).toString('hex');
/** A subject no other test uses. */
export const uniq = (label: string): string => `mrd.conformance.${label}.${rnd()}`;
/** A KV bucket name no other test uses. */
export const uniqBucket = (label: string): string => `conf-${label}-${rnd()}`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `cond` holds; fail with `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const PROBE = 'x-conformance-probe';

/** Records what one subscription receives, telling probes from real messages. */
export class Collector {
  readonly all: BusMessage[] = [];
  readonly sub: Subscription;

  constructor(bus: Bus, subject: string, opts?: SubscribeOptions) {
    this.sub = bus.subscribe(subject, (m) => this.all.push(m), opts);
  }

  get real(): BusMessage[] {
    return this.all.filter((m) => m.headers[PROBE] === undefined);
  }

  get texts(): string[] {
    return this.real.map((m) => dec(m.data));
  }

  get probes(): number {
    return this.all.length - this.real.length;
  }
}

/** Publish probes on `subjects` from `pub` until `ready()` (default: every collector saw one). */
export async function warmUp(pub: Bus, subjects: string | readonly string[], collectors: readonly Collector[], ready?: () => boolean): Promise<void> {
  const list = typeof subjects === 'string' ? [subjects] : subjects;
  const done = ready ?? ((): boolean => collectors.every((c) => c.probes > 0));
  await waitFor(`probes on ${list.join(', ')} from ${pub.region}`, () => {
    if (done()) return true;
    for (const s of list) pub.publish(s, new Uint8Array(0), { headers: { [PROBE]: '1' } });
    return false;
  }, 20_000, 50);
}

/** Publish `${tag}-<n>` from `pub` until `c` has received one of them; returns how many were sent. */
export async function publishUntil(pub: Bus, subject: string, c: Collector, tag: string, timeoutMs = 30_000): Promise<number> {
  let n = 0;
  await waitFor(`a message tagged ${tag} from ${pub.region}`, () => {
    if (c.texts.some((t) => t.startsWith(`${tag}-`))) return true;
    pub.publish(subject, enc(`${tag}-${n++}`));
    return false;
  }, timeoutMs, 50);
  return n;
}

function assertCode(err: unknown, codes: readonly ErrorCode[]): MeridianError {
  expect(isMeridianError(err), `expected a MeridianError, got ${String(err)}`).toBe(true);
  const e = err as MeridianError;
  expect(codes, `error code ${e.code}: ${e.message}`).toContain(e.code);
  return e;
}

/** `fn` must throw synchronously a MeridianError with one of `codes`. */
export function expectThrows(fn: () => unknown, ...codes: ErrorCode[]): MeridianError {
  try {
    fn();
  } catch (err) {
    return assertCode(err, codes);
  }
  throw new Error(`expected a throw with ${codes.join(' or ')}`);
}

/** `fn` must fail (throw or reject) with a MeridianError with one of `codes`. */
export async function expectFails(fn: () => Promise<unknown>, ...codes: ErrorCode[]): Promise<MeridianError> {
  try {
    await fn();
  } catch (err) {
    return assertCode(err, codes);
  }
  throw new Error(`expected a failure with ${codes.join(' or ')}`);
}

/** Start consuming a KV watch in the background; entries land in the returned array. */
export function collectWatch(watch: KvWatch): { entries: KvEntry[]; ended: () => boolean; error: () => unknown } {
  const entries: KvEntry[] = [];
  let ended = false;
  let error: unknown;
  void (async () => {
    try {
      for await (const e of watch) entries.push(e);
    } catch (err) {
      error = err;
    }
    ended = true;
  })();
  return { entries, ended: () => ended, error: () => error };
}
