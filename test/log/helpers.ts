/**
 * Shared pieces of the message log conformance suite: what a factory provides (an environment
 * of stores with handles on them), polling and error assertions, small builders.
 */
import { expect } from 'vitest';
import { isMeridianError } from '../../src/errors/mod.js';
import type { ErrorCode, MeridianError } from '../../src/errors/mod.js';
import type { LogOptions, MessageLog } from '../../src/log/mod.js';

/** One store (file or stream) under test, with handles on it. */
export interface LogHandle {
  /** The main handle (NATS: connected to a region other than the stream's home). */
  readonly log: MessageLog;
  /** Another handle on the same store (NATS: from yet another region). */
  peer(): Promise<MessageLog>;
  /** Put the store through a restart (embedded: close and reopen the file; NATS: restart the
   * home region's nats-server) and return a fresh handle once it serves again. */
  restart(): Promise<MessageLog>;
  /** The seqs of `conversation` physically in the store (SQLite: rows of the file; NATS: the
   * stream's messages on its subject), read beside the log, ascending: what retention removed
   * must be gone from here, not only hidden by reads. */
  stored(conversation: string): Promise<number[]>;
}

/** Knobs of a store that are not log options: how often its retention sweep runs. */
export interface LogTuning {
  sweepIntervalMs?: number;
}

export interface LogEnv {
  /** A new, empty store with these options. The env closes it on `close()`. */
  open(opts?: LogOptions, tuning?: LogTuning): Promise<LogHandle>;
  close(): Promise<void>;
}

export interface LogFactory {
  /** Shown in test names, e.g. "embedded" or "nats". */
  readonly name: string;
  create(): Promise<LogEnv>;
  readonly knownDifferences?: ReadonlyArray<{ test: string; reason: string }>;
}

export interface LogSuite {
  readonly env: LogEnv;
  test(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
}

const encoder = new TextEncoder();
export const enc = (s: string): Uint8Array => encoder.encode(s);

/** Poll until `cond` holds; fail with `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `fn` must fail (throw or reject) with a MeridianError with one of `codes`. */
export async function expectFails(fn: () => Promise<unknown>, ...codes: ErrorCode[]): Promise<MeridianError> {
  let failure: unknown;
  try {
    await fn();
  } catch (err) {
    failure = err;
  }
  if (failure === undefined) throw new Error(`expected a failure with ${codes.join(' or ')}`);
  expect(isMeridianError(failure), `expected a MeridianError, got ${failure instanceof Error ? failure.stack ?? failure.message : JSON.stringify(failure)}`).toBe(true);
  const e = failure as MeridianError;
  expect(codes, `error code ${e.code}: ${e.message}`).toContain(e.code);
  return e;
}

/** Append `n` entries from `from` and return their seqs. */
export async function appendN(log: MessageLog, conversation: string, n: number, from = 'alice'): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) seqs.push((await log.append(conversation, { from, body: { n: i } })).seq);
  return seqs;
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
