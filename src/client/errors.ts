/**
 * The client's typed errors. Every promise the client rejects rejects with one of these, so
 * callers can tell "the server refused this" (RequestFailedError, with the wire code and name)
 * from "the connection ended for good" (ConnectionClosedError, with the close code) from "we
 * gave up waiting" (ClientTimeoutError) and "you closed the client" (ClientClosedError).
 */
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { MeridianErrorOptions } from '../errors/mod.js';
import { closeName } from '../protocol/mod.js';
import type { ErrorFrame } from '../protocol/mod.js';

export class ClientError extends MeridianError {
  override name = 'ClientError';
}

/** The server answered a request with an `error` frame. */
export class RequestFailedError extends ClientError {
  override name = 'RequestFailedError';
  /** Wire code (4000–4499) and its stable name, e.g. 4012 FORBIDDEN. */
  readonly wireCode: number;
  readonly wireName: string;
  readonly retryable: boolean;
  readonly path: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(readonly frame: ErrorFrame) {
    super(ErrorCode.ClientRequestFailed, `${frame.name} (${frame.code}): ${frame.message}`, { details: { ...frame } });
    this.wireCode = frame.code;
    this.wireName = frame.name;
    this.retryable = frame.retryable;
    this.path = frame.path;
    this.retryAfterMs = frame.retryAfterMs;
  }
}

/** The connection was closed with a terminal code (or the subprotocol was refused). */
export class ConnectionClosedError extends ClientError {
  override name = 'ConnectionClosedError';
  constructor(
    readonly closeCode: number,
    readonly reason: string,
  ) {
    const label = closeName(closeCode) ?? 'close';
    super(ErrorCode.ClientConnectionClosed, `connection closed: ${label} (${closeCode})${reason ? `: ${reason}` : ''}`, { details: { closeCode, reason } });
  }
}

export class ClientTimeoutError extends ClientError {
  override name = 'ClientTimeoutError';
  constructor(what: string, ms: number) {
    super(ErrorCode.ClientTimeout, `${what}: no answer within ${ms} ms`, { details: { timeoutMs: ms } });
  }
}

/** The connection dropped before a request made on it was answered (the client redoes it). */
export class ConnectionDroppedError extends ClientError {
  override name = 'ConnectionDroppedError';
  constructor() {
    super(ErrorCode.ClientTimeout, 'the connection dropped before the answer');
  }
}

export class ClientClosedError extends ClientError {
  override name = 'ClientClosedError';
  constructor(options: MeridianErrorOptions = {}) {
    super(ErrorCode.ClientClosed, 'the client is closed', options);
  }
}

/**
 * A send stayed unacknowledged past the server's dedupe window: resending now could store it
 * twice, so the client stops. It may or may not have been stored.
 */
export class SendExpiredError extends ClientError {
  override name = 'SendExpiredError';
  constructor(clientMsgId: string, windowMs: number) {
    super(ErrorCode.ClientSendExpired, `send ${clientMsgId} was not acknowledged within the ${windowMs} ms dedupe window; it may or may not have been stored`, {
      details: { clientMsgId, dedupeWindowMs: windowMs },
    });
  }
}

/** The server sent something that is not a valid frame of this protocol version. */
export class ClientProtocolError extends ClientError {
  override name = 'ClientProtocolError';
  constructor(reason: string) {
    super(ErrorCode.ClientProtocol, `invalid frame from the server: ${reason}`, { details: { reason } });
  }
}

export class ClientInvalidError extends ClientError {
  override name = 'ClientInvalidError';
  constructor(message: string) {
    super(ErrorCode.ClientInvalid, message);
  }
}

/** One way the client tried to connect, and why it did not work. */
export interface ConnectAttempt {
  /** The region (from an election) or `edge`, when known. */
  readonly region?: string;
  readonly url: string;
  readonly error: string;
}

/**
 * No transport could connect at all: the election found no candidate that answered and every
 * URL (the elected ones, the configured ones, the edge's /ws) failed. `attempts` says what was
 * tried and why each failed.
 */
export class ClientUnreachableError extends ClientError {
  override name = 'ClientUnreachableError';
  constructor(readonly attempts: readonly ConnectAttempt[]) {
    const list = attempts.map((a) => `${a.region === undefined ? '' : `${a.region} `}${a.url}: ${a.error}`).join('; ');
    super(ErrorCode.ClientUnreachable, `could not connect anywhere (${attempts.length} attempt${attempts.length === 1 ? '' : 's'}): ${list || 'nothing to try'}`, { details: { attempts: attempts.map((a) => ({ ...a })) } });
  }
}
