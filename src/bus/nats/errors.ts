/**
 * Mapping of nats.js errors onto Meridian's typed errors.
 *
 * nats.js v3 reports failures as classes (`TimeoutError`, `RequestError` wrapping
 * `NoRespondersError`, `ClosedConnectionError`, `JetStreamApiError` with the server's API error
 * code…). Callers of the bus only ever see a `MeridianError`: the raw error stays as `cause`.
 * Classes and numeric codes are matched, never message text, except where nats.js offers nothing
 * else (noted below).
 */
import {
  ClosedConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { ErrorCode, MeridianError } from '../../errors/mod.js';

/** What the failed call was: the same nats error means different things to each. */
export type ErrorContext = 'request' | 'kv' | 'kv-create' | 'kv-update' | 'flush';

/** JetStream API error codes we react to (server `err_code`), beyond those nats.js names. */
const JS_CLUSTER_NOT_AVAILABLE = 10008; // "JetStream system temporarily unavailable"
const JS_NO_SUITABLE_PEERS = 10005; // placement cluster unknown or without JetStream
const JS_INSUFFICIENT_RESOURCES = 10023;

function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  let cur: unknown = err;
  while (cur !== undefined && cur !== null && out.length < 8) {
    out.push(cur);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return out;
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

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Turn anything nats.js threw into a `MeridianError`. `closed` says whether our bus was closed
 * by its owner, so a request cut short by `close()` reads as `BUS_CLOSED`.
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
  const api = causes(err).find((e): e is JetStreamApiError => e instanceof JetStreamApiError);
  if (api) {
    if (api.code === JetStreamApiCodes.StreamWrongLastSequence || api.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown) {
      if (ctx === 'kv-create') return new MeridianError(ErrorCode.KvKeyExists, 'the key already holds a value', opts);
      return new MeridianError(ErrorCode.KvWrongRevision, 'the key changed since the given revision', opts);
    }
    if (api.code === JS_NO_SUITABLE_PEERS || api.code === JS_INSUFFICIENT_RESOURCES) {
      // The server uses one code for "no such cluster" and "its servers are down"; only the
      // description tells them apart ("…, peer offline").
      if (/offline/i.test(api.message)) {
        return new MeridianError(ErrorCode.BusUnavailable, `the bucket's home region is down: ${api.message}`, opts);
      }
      return new MeridianError(ErrorCode.BusUnknownRegion, `no JetStream servers for the bucket's region: ${api.message}`, opts);
    }
    const status = api.status;
    const text = api.code === JS_CLUSTER_NOT_AVAILABLE || status === 503 ? 'JetStream is temporarily unavailable' : `JetStream refused the call: ${api.message}`;
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
