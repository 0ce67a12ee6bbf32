/**
 * nats.js errors: the JetStream API error codes we react to, how to recognise each failure, and
 * their mapping onto Meridian's typed errors.
 *
 * nats.js v3 reports failures as classes (`TimeoutError`, `RequestError` wrapping
 * `NoRespondersError`, `ClosedConnectionError`, `JetStreamApiError` with the server's API error
 * code…). Callers of the bus and the log only ever see a `MeridianError`: the raw error stays as
 * `cause`. Classes and numeric codes are matched, never message text, except where nats.js
 * offers nothing else (noted below). Each check walks the `cause` chain, so a wrapped error
 * reads like the one it wraps.
 */
import {
  ClosedConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { ErrorCode, MeridianError } from '../errors/mod.js';

/**
 * JetStream API error codes (the server's `err_code`) we react to. nats.js names a few
 * (`JetStreamApiCodes`); the rest are from nats-server's errors.json, stable across versions.
 */
export const ApiCode = {
  /** "no suitable peers for placement": the placement cluster is unknown, has no JetStream, or (", peer offline") is down. */
  NoSuitablePeers: 10005,
  /** "JetStream system temporarily unavailable": the meta group has no leader (servers starting, an election, lost quorum). */
  TemporarilyUnavailable: 10008,
  /** "insufficient resources": read like NoSuitablePeers. */
  InsufficientResources: 10023,
  /** "no message found" (a lookup or delete of a sequence that is gone). */
  NoMessageFound: JetStreamApiCodes.NoMessageFound,
  /** "stream name already in use with a different configuration". */
  StreamNameExists: 10058,
  /** "wrong last sequence": an expected-last-sequence publish lost its race. */
  StreamWrongLastSequence: JetStreamApiCodes.StreamWrongLastSequence,
  /** The same refusal when the server cannot tell the last sequence. */
  StreamWrongLastSequenceUnknown: JetStreamApiCodes.StreamWrongLastSequenceUnknown,
} as const;

/** `err` and its causes, innermost last (bounded: a cause chain can be circular). */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  let cur: unknown = err;
  while (cur !== undefined && cur !== null && out.length < 8) {
    out.push(cur);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return out;
}

/** The JetStream API refusal in `err` or its causes, if there is one. */
export function apiErrorOf(err: unknown): JetStreamApiError | undefined {
  return causes(err).find((e): e is JetStreamApiError => e instanceof JetStreamApiError);
}

/** Whether `err` is (or wraps) a JetStream API refusal with one of `codes`. */
export function isApiError(err: unknown, ...codes: number[]): boolean {
  const api = apiErrorOf(err);
  return api !== undefined && codes.includes(api.code);
}

/** The meta group has no leader: worth retrying for a few seconds (see retry.ts). */
export function isTemporarilyUnavailable(err: unknown): boolean {
  return isApiError(err, ApiCode.TemporarilyUnavailable);
}

/** An expected-last-sequence publish lost its race (a compare-and-set refused). */
export function isWrongLastSequence(err: unknown): boolean {
  return isApiError(err, ApiCode.StreamWrongLastSequence, ApiCode.StreamWrongLastSequenceUnknown);
}

/** Did the call find nobody listening (core no-responders, or nats.js's JetStreamNotEnabled)? */
export function isNoResponders(err: unknown): boolean {
  return causes(err).some(
    (e) =>
      e instanceof NoRespondersError ||
      (e instanceof RequestError && e.isNoResponders()) ||
      // JetStreamNotEnabled is not exported by @nats-io/jetstream; nats.js throws it exactly
      // when a JS API request found no responders, with the RequestError as cause (handled
      // above); the name check is a fallback for a cause-less instance.
      (e instanceof Error && e.name === 'JetStreamNotEnabled'),
  );
}

/** What the failed call was: the same nats error means different things to each. */
export type ErrorContext = 'request' | 'kv' | 'kv-create' | 'kv-update' | 'flush';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Turn anything nats.js threw into a `MeridianError` (BUS_* and KV_* codes; the log renames
 * them, src/log/nats-store.ts). `closed` says whether the caller's bus or log was closed by its
 * owner, so a request cut short by `close()` reads as `BUS_CLOSED`.
 */
export function mapNatsError(err: unknown, ctx: ErrorContext, details: Record<string, unknown> = {}, closed = false): MeridianError {
  if (err instanceof MeridianError) return err;
  const opts = { cause: err, details };
  if (closed || causes(err).some((e) => e instanceof ClosedConnectionError || e instanceof DrainingConnectionError)) {
    return new MeridianError(ErrorCode.BusClosed, 'the bus is closed', opts);
  }
  if (isNoResponders(err)) {
    return ctx === 'request'
      ? new MeridianError(ErrorCode.BusNoResponders, `no responders for ${typeof details['subject'] === 'string' ? details['subject'] : 'the request'}`, opts)
      : new MeridianError(ErrorCode.BusUnavailable, 'the KV bucket is unreachable: its home region is down or cut off', opts);
  }
  if (causes(err).some((e) => e instanceof TimeoutError)) {
    return new MeridianError(ErrorCode.BusTimeout, ctx === 'request' ? 'request timed out' : 'the KV bucket did not answer in time', opts);
  }
  const api = apiErrorOf(err);
  if (api) {
    if (isWrongLastSequence(api)) {
      if (ctx === 'kv-create') return new MeridianError(ErrorCode.KvKeyExists, 'the key already holds a value', opts);
      return new MeridianError(ErrorCode.KvWrongRevision, 'the key changed since the given revision', opts);
    }
    if (api.code === ApiCode.NoSuitablePeers || api.code === ApiCode.InsufficientResources) {
      // The server uses one code for "no such cluster" and "its servers are down"; only the
      // description tells them apart ("…, peer offline").
      if (/offline/i.test(api.message)) {
        return new MeridianError(ErrorCode.BusUnavailable, `the bucket's home region is down: ${api.message}`, opts);
      }
      return new MeridianError(ErrorCode.BusUnknownRegion, `no JetStream servers for the bucket's region: ${api.message}`, opts);
    }
    const text = api.code === ApiCode.TemporarilyUnavailable || api.status === 503 ? 'JetStream is temporarily unavailable' : `JetStream refused the call: ${api.message}`;
    return new MeridianError(ErrorCode.BusUnavailable, text, opts);
  }
  if (causes(err).some((e) => e instanceof RequestError)) {
    // RequestError without a no-responders cause: the connection dropped while waiting
    // ("connection disconnected") or was closed under the request ("connection closed").
    return new MeridianError(ErrorCode.BusUnavailable, `the bus connection was lost: ${message(err)}`, opts);
  }
  if (causes(err).some((e) => e instanceof JetStreamError)) {
    // Status replies (503 from a direct get, etc.) and malformed acks.
    return new MeridianError(ErrorCode.BusUnavailable, `JetStream failed: ${message(err)}`, opts);
  }
  return new MeridianError(ErrorCode.BusUnavailable, `bus call failed: ${message(err)}`, opts);
}
