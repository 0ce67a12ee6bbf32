/**
 * Time as the client sees it, injectable so tests of timers (batching, heartbeats, backoff)
 * need not sleep. The default is the platform's: Date.now and the global timers, which exist
 * in browsers and Node alike.
 */

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};
