/**
 * Shared pieces of the presence conformance suite: what a factory provides (an environment of
 * three regions where nodes can be started and crashed), event recording, polling, errors.
 */
import { expect } from 'vitest';
import { isMeridianError } from '../../src/errors/mod.js';
import type { ErrorCode, MeridianError } from '../../src/errors/mod.js';
import type { Presence, PresenceChange, PresenceOptions } from '../../src/presence/mod.js';

export interface PresenceNode {
  readonly region: string;
  readonly presence: Presence;
  /** Kill the node without `close()`: its bus goes away underneath it, as when a process dies. */
  crash(): Promise<void>;
  /** Close the presence, then its bus. Idempotent. */
  close(): Promise<void>;
}

export interface PresenceEnv {
  /** Three regions, each with its own presence bucket. */
  readonly regions: readonly string[];
  /** One-way latency of the link between two regions (0 within one). */
  linkLatencyMs(a: string, b: string): number;
  /** Start a node (its own bus connection) in `region`; the env closes it at the end. */
  node(region: string, name: string, opts?: PresenceOptions): Promise<PresenceNode>;
  close(): Promise<void>;
}

export interface PresenceFactory {
  /** Shown in test names, e.g. "embedded" or "nats". */
  readonly name: string;
  /** Short timings the suite runs with (graceMs and ttlMs are required). */
  readonly options: Required<Pick<PresenceOptions, 'graceMs' | 'ttlMs'>> & PresenceOptions;
  create(): Promise<PresenceEnv>;
  readonly knownDifferences?: ReadonlyArray<{ test: string; reason: string }>;
}

export interface PresenceSuite {
  readonly env: PresenceEnv;
  readonly opts: PresenceFactory['options'];
  test(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
}

/** Every change a presence reports, with the local time it arrived. */
export interface Recorder {
  readonly changes: Array<PresenceChange & { at: number }>;
  of(kind: PresenceChange['kind'], user: string, room?: string): Array<PresenceChange & { at: number }>;
  stop(): void;
}

export function record(p: Presence): Recorder {
  const changes: Array<PresenceChange & { at: number }> = [];
  const stop = p.watch((c) => changes.push({ ...c, at: Date.now() }));
  return {
    changes,
    of: (kind, user, room) => changes.filter((c) => c.kind === kind && c.user === user && (room === undefined || ('room' in c && c.room === room))),
    stop,
  };
}

/** Poll until `cond` holds; fail with `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `fn` must fail (throw or reject) with a MeridianError with `code`. */
export async function expectFails(fn: () => unknown, code: ErrorCode): Promise<MeridianError> {
  let failure: unknown;
  try {
    await fn();
  } catch (err) {
    failure = err;
  }
  if (failure === undefined) throw new Error(`expected a failure with ${code}`);
  expect(isMeridianError(failure), `expected a MeridianError, got ${failure instanceof Error ? (failure.stack ?? failure.message) : JSON.stringify(failure)}`).toBe(true);
  expect((failure as MeridianError).code, (failure as Error).message).toBe(code);
  return failure as MeridianError;
}

let serial = 0;
/** A fresh id, so tests sharing the buckets never see each other's users and rooms. */
export const fresh = (prefix: string): string => `${prefix}-${++serial}-${Math.random().toString(36).slice(2, 7)}`;
