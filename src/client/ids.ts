/**
 * Client message ids (the idempotency key of a send) and keys for presence targets.
 * Ids come from `crypto.randomUUID` where the platform has it (browsers in secure contexts,
 * Node ≥ 19); with an injected random source (tests) they are derived from it, so a test run
 * is reproducible.
 */
import type { Target } from './types.js';

export function newClientMsgId(random: () => number, useRandom: boolean): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (!useRandom && typeof c?.randomUUID === 'function') return c.randomUUID();
  let s = '';
  for (let i = 0; i < 4; i++) s += Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return s;
}

export function targetKey(target: Target): string {
  return 'user' in target ? `u:${target.user}` : `r:${target.room}`;
}
