/**
 * Retrying a JetStream call while the failure is one that passes on its own.
 *
 * Two such failures are known to us. The meta group has no leader (API code 10008, "JetStream
 * system temporarily unavailable") for a moment when the servers of a region start together or
 * elect a new leader; calls that need it (stream and consumer create) succeed once one is
 * elected. And a call may find no responders right after a stream is created or its region comes
 * back, until interest has crossed the gateways. Each caller says which failure it retries and
 * how long it waits; nothing else is retried, so a real outage still fails within the pauses.
 */
import { isTemporarilyUnavailable } from './errors.js';

/**
 * Pauses while the meta group elects a leader: 20 × 250 ms, about 5 s. An election on a healthy
 * cluster takes well under a second (measured on loopback: a stream create went through 0.5 s
 * after the second of three servers started).
 */
export const META_LEADER_PAUSES_MS: readonly number[] = Array.from({ length: 20 }, () => 250);

/**
 * Run `fn`; when it fails and `retryOn(err)` holds, wait the next of `pausesMs` and run it again.
 * Once the pauses are used up, or for any other failure, the last error is thrown as it is.
 */
export async function retrying<T>(fn: () => Promise<T>, retryOn: (err: unknown) => boolean, pausesMs: readonly number[]): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const pause = pausesMs[attempt];
      if (pause === undefined || !retryOn(err)) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/** Run a call that needs the meta leader, waiting out an election (`META_LEADER_PAUSES_MS`). */
export function whenMetaLeader<T>(fn: () => Promise<T>): Promise<T> {
  return retrying(fn, isTemporarilyUnavailable, META_LEADER_PAUSES_MS);
}
