/**
 * Shared setup of the NATS bus tests: whether nats-server is here (skip or fail), the
 * three-region layout with latencies that make "nearest region" unambiguous, and a poll helper.
 *
 * Without nats-server the NATS suites are reported as skipped with the install hint, unless
 * MERIDIAN_REQUIRE_NATS=1 (CI with NATS), where a missing binary must fail the run instead.
 */
import { describe, it } from 'vitest';
import { findNatsServer } from '../../src/testing/mod.js';

export const NATS_INSTALL_HINT = 'install nats-server >= 2.9: apt-get install nats-server';
export const natsServerPath = findNatsServer();
const requireNats = process.env['MERIDIAN_REQUIRE_NATS'] === '1';

/** `describe` that runs only with nats-server installed (see module header). */
export function describeWithNats(name: string, fn: () => void): void {
  if (natsServerPath !== null) {
    describe(name, fn);
  } else if (requireNats) {
    describe(name, () => {
      it(`needs nats-server (MERIDIAN_REQUIRE_NATS=1): ${NATS_INSTALL_HINT}`, () => {
        throw new Error(`nats-server not found and MERIDIAN_REQUIRE_NATS=1: ${NATS_INSTALL_HINT}`);
      });
    });
  } else {
    // The default reporter folds skipped files into a count: say why where people look.
    console.warn(`[meridian] skipping "${name}": nats-server not found (${NATS_INSTALL_HINT})`);
    describe.skip(`${name} (skipped: ${NATS_INSTALL_HINT})`, fn);
  }
}

export const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;

const LINKS: Record<string, number> = {
  'eu-west|us-east': 8,
  'ap-southeast|eu-west': 20,
  'ap-southeast|us-east': 30,
};

/** One-way latency of the link between two regions (symmetric), 0 within a region. */
export function latencyMs(a: string, b: string): number {
  if (a === b) return 0;
  const key = [a, b].sort().join('|');
  const ms = LINKS[key];
  if (ms === undefined) throw new Error(`no link ${a} <-> ${b}`);
  return ms;
}

/** Poll `cond` until it holds; throws with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, intervalMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
