/**
 * Writing answers, for the region node, the edge and the services module alike: JSON bodies,
 * typed errors `{ error: { code, message, details? } }` with a stable ErrorCode (docs/protocol.md,
 * docs/services.md), a thrown failure answered with the status the one code→status table
 * (src/errors/http-status.ts) gives its code, and plain HTTP refusals on a raw socket for
 * WebSocket upgrades that cannot be served (an upgrade request has no ServerResponse).
 */
import { STATUS_CODES } from 'node:http';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode, httpStatus, isMeridianError } from '../errors/mod.js';

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details?: Record<string, unknown> };
}

/** `{ error: { code, message } }`, with `details` only when there are some. */
export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: details !== undefined && Object.keys(details).length > 0 ? { code, message, details } : { code, message } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  // Answered already (the node's 503 when its bus went down while this request was in flight):
  // nothing to add, and the finished answer's connection stays usable.
  if (res.writableEnded) return;
  if (res.headersSent) {
    // Too late for a status: cut the body so the client sees a failed transfer, not a short one.
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string, details?: Record<string, unknown>, headers: OutgoingHttpHeaders = {}): void {
  sendJson(res, status, errorBody(code, message, details), headers);
}

export interface FailureOptions {
  /** Seconds a 503 asks the caller to wait (`Retry-After`); none when left out. */
  readonly retryAfterS?: number;
  readonly headers?: OutgoingHttpHeaders;
  /** The answer to a thrown value that is not a MeridianError (500, no internals in the message). */
  readonly internal?: { readonly code: ErrorCode; readonly message: string };
}

const INTERNAL = { code: ErrorCode.InternalError, message: 'the server failed to handle this request' };

/**
 * Send any thrown value as a typed error: a MeridianError with its code, details and the status
 * of HTTP_STATUS; anything else as `internal` (500) without internals.
 */
export function sendFailure(res: ServerResponse, err: unknown, opts: FailureOptions = {}): void {
  const headers = opts.headers ?? {};
  if (!isMeridianError(err)) {
    const internal = opts.internal ?? INTERNAL;
    sendError(res, 500, internal.code, internal.message, undefined, headers);
    return;
  }
  const status = httpStatus(err.code);
  const later = status === 503 && opts.retryAfterS !== undefined ? { 'retry-after': String(opts.retryAfterS) } : {};
  sendError(res, status, err.code, err.message, err.details, { ...headers, ...later });
}

/** A MeridianError thrown by input checks becomes a 400 with its code; anything else rethrows. */
export function sendBadRequest(res: ServerResponse, err: unknown): void {
  if (!isMeridianError(err)) throw err;
  sendError(res, 400, err.code, err.message);
}

/** Refuse a WebSocket upgrade with an ordinary HTTP answer and close the socket. */
export function refuseUpgrade(socket: Duplex, status: number, code: ErrorCode, message: string, headers: Readonly<Record<string, string>> = {}): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(errorBody(code, message));
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(text)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}

/**
 * Pass an upstream's own refusal of an upgrade (a 4xx: rate limited, origin or credential
 * refused) on to the client as it was given: status, the headers a client acts on, and its body.
 */
export function relayUpgradeRefusal(socket: Duplex, status: number, headers: Readonly<Record<string, string>>, body: Buffer): void {
  if (socket.destroyed) return;
  const keep = ['content-type', 'retry-after', 'www-authenticate'];
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    `Content-Length: ${body.byteLength}`,
    ...keep.filter((k) => headers[k] !== undefined).map((k) => `${k}: ${headers[k]}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  socket.end(body);
}
