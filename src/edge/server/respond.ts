/**
 * Writing answers: JSON bodies, typed error bodies `{ error: { code, message } }` with stable
 * codes, and plain HTTP refusals on a raw socket for WebSocket upgrades that cannot be served
 * (an upgrade request has no ServerResponse to write to).
 */
import { STATUS_CODES } from 'node:http';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../../errors/mod.js';
import { isMeridianError } from '../../errors/mod.js';

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    // Too late for a status: cut the body so the client sees a failed transfer, not a short one.
    res.destroy();
    return;
  }
  sendJson(res, status, errorBody(code, message), headers);
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
 * Pass a region's own refusal of an upgrade (a 4xx: rate limited, origin or credential refused)
 * on to the client as the region gave it: status, the headers a client acts on, and its JSON body.
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
