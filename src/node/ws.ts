/**
 * The WebSocket endpoint `/ws`: refusals before the upgrade (an origin not configured, an unknown
 * protocol version), subprotocol negotiation, and a `Session` per accepted connection. server.ts
 * refuses first what is not about the connection itself: wrong path, rate, draining, down, bus lost.
 *
 * Version negotiation (docs/protocol.md): a client offering `meridian.v1` gets it; one offering
 * only other versions gets HTTP 400 with `{ name: "PROTOCOL_VERSION", supported }`; one offering
 * none is accepted and closed 4752 so command-line tools see a readable reason. Compression is
 * off (frames are written pre-framed to many sockets, and it costs memory per connection);
 * UTF-8 is checked by the frame parser, so invalid text is a BAD_FRAME error, not a close.
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { REGION_HEADER } from '../http/headers.js';
import { ErrorCode } from '../errors/mod.js';
import { CloseCode, SUBPROTOCOL } from '../protocol/mod.js';
import type { NodeContext } from './context.js';
import { Session } from './session.js';

export type UpgradeRefusal = { status: number; body: unknown } | undefined;

export class WsEndpoint {
  readonly #wss: WebSocketServer;

  constructor(readonly ctx: NodeContext) {
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      skipUTF8Validation: true,
      // Frames up to 4× the protocol limit are read and answered FRAME_TOO_LARGE; beyond that the
      // client is clearly not speaking the protocol and ws closes with 1009.
      maxPayload: ctx.opts.limits.maxFrameBytes * 4,
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    // The 101 names the region too (as every HTTP answer of the node does: server.ts).
    const named = `${REGION_HEADER}: ${ctx.opts.region}`;
    this.#wss.on('headers', (headers) => headers.push(named));
  }

  /** Upgrade `req` (already routed to /ws and admitted by the server). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A browser page of an origin not configured may not open a session with its user's token
    // (cross-site WebSocket hijacking); clients that send no Origin are not browsers.
    const origin = req.headers.origin;
    const allowed = this.ctx.opts.origins;
    if (allowed !== undefined && origin !== undefined && !allowed.includes(origin)) {
      refuse(socket, 403, { error: { code: ErrorCode.OriginNotAllowed, message: `origin ${JSON.stringify(origin.slice(0, 200))} may not open WebSockets here` } });
      return;
    }
    const offered = req.headers['sec-websocket-protocol'];
    if (offered !== undefined) {
      const list = offered.split(',').map((s) => s.trim());
      if (!list.includes(SUBPROTOCOL)) {
        refuse(socket, 400, { name: 'PROTOCOL_VERSION', supported: [SUBPROTOCOL] });
        return;
      }
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new Session(this.ctx, ws, socket as Socket);
      if (offered === undefined) session.close(CloseCode.PROTOCOL_VERSION, `offer the ${SUBPROTOCOL} subprotocol`);
    });
  }

  close(): void {
    this.#wss.close();
  }
}

/** Refuse an upgrade with a plain HTTP answer, a JSON body and any extra headers (`Retry-After`). */
export function refuse(socket: Duplex, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(body);
  const phrase = STATUS_CODES[status] ?? 'Error';
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${phrase}\r\nConnection: close\r\n${extra}Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}
