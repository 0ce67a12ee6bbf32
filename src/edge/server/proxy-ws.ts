/**
 * `GET /ws` → a WebSocket bridged to the chosen region's `/ws`, with the `ws` library on both
 * sides. The upstream socket is opened first and the client's upgrade is completed only once the
 * region accepted, so a client never holds a socket to nowhere and a refused dial can try one
 * other region (opening a WebSocket has no side effect to repeat).
 *
 * The bridge has no duration limit. Messages pass both ways with their text/binary kind; each hop
 * answers its own pings (ws does that), so ping/pong keeps both legs alive. Backpressure: when one
 * side has more than the high-water mark queued, the other side's reading is paused until the
 * queue drains below half of it. Close codes pass through; 1005 (none) is sent as no code, and an
 * abnormal end (1006) becomes 1014 "bad gateway" towards the client or 1001 "going away" towards
 * the region — 1006 itself may not be sent on the wire.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { ErrorCode } from '../../errors/mod.js';
import type { EdgeContext } from './context.js';
import { forwardHeaders } from '../../http/headers.js';
import { refuseUpgrade, relayUpgradeRefusal } from '../../http/respond.js';
import { affinityCookie, locateClient, requestedAffinity, steer } from './steer.js';

/** A region's refusal of an upgrade, passed on to the client. */
interface Refusal {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Most of a region's refusal body passed on. */
const MAX_REFUSAL_BODY = 8 * 1024;

const HANDSHAKE_HEADERS = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol'];
const DEFAULT_HIGH_WATER = 1 << 20;

interface Pending {
  readonly cookie: string;
  readonly protocol: string;
}

export class WsProxy {
  readonly #wss: WebSocketServer;
  readonly #pending = new WeakMap<IncomingMessage, Pending>();
  readonly #open = new Set<WebSocket>();

  constructor(private readonly ctx: EdgeContext) {
    this.#wss = new WebSocketServer({
      noServer: true,
      // Compression is negotiated per leg; off by default keeps frames as the region sent them.
      perMessageDeflate: false,
      // Agree to whatever subprotocol the region picked from the client's list.
      handleProtocols: (_protocols, req) => this.#pending.get(req)?.protocol || false,
    });
    this.#wss.on('headers', (headers, req) => {
      const p = this.#pending.get(req);
      if (p !== undefined) headers.push(`Set-Cookie: ${p.cookie}`);
    });
  }

  get connections(): number {
    return this.#open.size;
  }

  async handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const ctx = this.ctx;
    const client = locateClient(ctx, req);
    let clientGone = false;
    socket.once('close', () => (clientGone = true));
    socket.on('error', () => undefined);
    let tried: string | undefined;
    for (let i = 0; i < 2; i++) {
      const s = steer(ctx, client, i === 0 ? requestedAffinity(ctx, req) : undefined, tried === undefined ? undefined : new Set([tried]));
      if (s.region === null || s.url === null) {
        if (tried !== undefined) break;
        return refuseUpgrade(socket, 503, ErrorCode.EdgeNoRegion, `no region can serve this client (${s.decision.reason})`, { 'Retry-After': String(ctx.retryAfterS) });
      }
      tried = s.region;
      ctx.load.request(s.region);
      const dialed = await this.#dial(req, s.url);
      const upstream = dialed instanceof WebSocket ? dialed : undefined;
      if (clientGone) {
        upstream?.terminate();
        return;
      }
      if (dialed !== undefined && !(dialed instanceof WebSocket)) {
        // The region refused this client (4xx: rate limited, origin, credential): its answer,
        // not a failure of the region: counted as a success, and not tried elsewhere (that would
        // get around a limit).
        ctx.monitor.recordOutcome(s.region, true);
        return relayUpgradeRefusal(socket, dialed.status, dialed.headers, dialed.body);
      }
      if (upstream === undefined) {
        ctx.monitor.recordOutcome(s.region, false);
        ctx.metrics.proxyErrors.inc({ region: s.region, transport: 'ws' });
        continue;
      }
      ctx.monitor.recordOutcome(s.region, true);
      this.#pending.set(req, { cookie: affinityCookie(ctx, s.region), protocol: upstream.protocol });
      const region = s.region;
      this.#wss.handleUpgrade(req, socket, head, (downstream) => this.#bridge(region, downstream, upstream));
      return;
    }
    refuseUpgrade(socket, 502, ErrorCode.EdgeUpstreamFailed, `region ${tried ?? '?'} refused the WebSocket`);
  }

  /** Close every bridged connection (1001 going away) — the edge is shutting down. */
  closeAll(): void {
    for (const ws of this.#open) ws.close(1001, 'edge shutting down');
  }

  /** The region's WebSocket; its refusal of this client (a 4xx, with the answer); or undefined when the region failed. */
  #dial(req: IncomingMessage, base: URL): Promise<WebSocket | Refusal | undefined> {
    const target = new URL(req.url ?? '/ws', base);
    target.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
    return new Promise((resolve) => {
      const ws = new WebSocket(target, protocols, { headers: forwardHeaders(req, { drop: HANDSHAKE_HEADERS }) as Record<string, string>, perMessageDeflate: false, handshakeTimeout: 5_000 });
      ws.once('open', () => {
        // Hold the region's first frames (a greeting, say) until the client side is bridged.
        ws.pause();
        resolve(ws);
      });
      ws.once('unexpected-response', (r, res) => {
        const status = res.statusCode ?? 502;
        if (status < 400 || status >= 500) {
          res.resume();
          r.destroy();
          return resolve(undefined);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const done = (): void => {
          r.destroy();
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
          resolve({ status, headers, body: Buffer.concat(chunks) });
        };
        res.on('data', (b: Buffer) => {
          if (size + b.byteLength <= MAX_REFUSAL_BODY) chunks.push(b);
          size += b.byteLength;
        });
        res.once('end', done);
        res.once('error', done);
        setTimeout(done, 1000).unref();
      });
      ws.once('error', () => resolve(undefined));
    });
  }

  #bridge(region: string, client: WebSocket, upstream: WebSocket): void {
    const ctx = this.ctx;
    const high = ctx.options.wsHighWaterMark ?? DEFAULT_HIGH_WATER;
    ctx.load.connectionOpened(region);
    this.#open.add(client);
    relay(client, upstream, high);
    relay(upstream, client, high);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    upstream.resume();
    // The region may have gone between its handshake and ours.
    if (upstream.readyState !== WebSocket.OPEN) closeWith(client, 1014, Buffer.from('region closed'));
    client.once('close', (code, reason) => {
      this.#open.delete(client);
      ctx.load.connectionClosed(region);
      closeWith(upstream, code === 1006 || code === 1015 ? 1001 : code, reason);
    });
    upstream.once('close', (code, reason) => {
      // A region that vanishes drops every socket at once: passive detection ejects it quickly.
      if (code === 1006) ctx.monitor.recordOutcome(region, false);
      closeWith(client, code === 1006 || code === 1015 ? 1014 : code, reason);
    });
  }
}

function relay(from: WebSocket, to: WebSocket, high: number): void {
  from.on('message', (data, isBinary) => {
    if (to.readyState !== WebSocket.OPEN) return;
    to.send(data, { binary: isBinary }, () => {
      if (from.isPaused && to.bufferedAmount <= high / 2) from.resume();
    });
    if (to.bufferedAmount > high) from.pause();
  });
}

function closeWith(ws: WebSocket, code: number, reason: Buffer): void {
  if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return;
  if (code === 1005) ws.close();
  else ws.close(code, reason);
}
