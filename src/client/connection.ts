/**
 * One WebSocket through the handshake and until it closes: offer `meridian.v1`, send `auth`,
 * wait for `welcome`, then hand every valid server frame to the client. Reconnects, migration
 * and everything stateful live in the client; a Connection is used once and thrown away.
 */
import { SUBPROTOCOL, CloseCode, encodeClientFrame, parseServerFrame } from '../protocol/mod.js';
import type { AuthFrame, ClientFrame, ServerFrame, WelcomeFrame } from '../protocol/mod.js';
import type { Clock } from './clock.js';
import { ClientInvalidError, ClientProtocolError, ClientTimeoutError, ConnectionClosedError, RequestFailedError } from './errors.js';
import type { WebSocketCloseEvent, WebSocketConstructor, WebSocketLike, WebSocketMessageEvent } from './types.js';

const OPEN = 1;

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  /** True when this side ended it (close, or abandoned as dead). */
  readonly local: boolean;
}

export interface OpenParams {
  readonly WebSocket: WebSocketConstructor;
  readonly url: string;
  readonly auth: AuthFrame;
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly onFrame: (frame: ServerFrame, conn: Connection) => void;
  readonly onInvalid: (err: ClientProtocolError) => void;
}

export class Connection {
  /** Resolves once, when the socket closed or this side gave up on it. */
  readonly closed: Promise<CloseInfo>;
  lastReceivedAt: number;
  private resolveClosed!: (info: CloseInfo) => void;
  private done = false;
  private welcomeFrame: WelcomeFrame | undefined;

  private constructor(
    readonly url: string,
    private readonly socket: WebSocketLike,
    private readonly clock: Clock,
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.lastReceivedAt = clock.now();
  }

  get welcome(): WelcomeFrame {
    if (!this.welcomeFrame) throw new Error('welcome read before the handshake finished');
    return this.welcomeFrame;
  }

  get isOpen(): boolean {
    return !this.done && this.socket.readyState === OPEN;
  }

  /** Upgrade, authenticate and wait for `welcome`. Rejects with a typed error; never leaves a socket behind. */
  static open(p: OpenParams): Promise<Connection> {
    let socket: WebSocketLike;
    try {
      socket = new p.WebSocket(p.url, SUBPROTOCOL);
    } catch (err) {
      return Promise.reject(new ClientInvalidError(`cannot open a WebSocket to ${p.url}: ${err instanceof Error ? err.message : String(err)}`));
    }
    const conn = new Connection(p.url, socket, p.clock);
    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error, info: CloseInfo): void => {
        if (settled) return;
        settled = true;
        p.clock.clearTimeout(timer);
        conn.finish(info, true);
        reject(err);
      };
      const timer = p.clock.setTimeout(() => fail(new ClientTimeoutError(`connecting to ${p.url}`, p.timeoutMs), { code: 1006, reason: 'connect timeout', local: true }), p.timeoutMs);

      socket.addEventListener('open', () => {
        if (socket.protocol !== SUBPROTOCOL) {
          const reason = `the server did not select the ${SUBPROTOCOL} subprotocol`;
          fail(new ConnectionClosedError(CloseCode.PROTOCOL_VERSION, reason), { code: CloseCode.PROTOCOL_VERSION, reason, local: true });
          return;
        }
        conn.write(p.auth);
      });
      socket.addEventListener('message', (ev: WebSocketMessageEvent) => {
        if (conn.done) return;
        conn.lastReceivedAt = p.clock.now();
        const parsed = typeof ev.data === 'string' ? parseServerFrame(ev.data) : { ok: false as const, ignorable: false, reason: 'binary frame' };
        if (!parsed.ok) {
          if (!parsed.ignorable) p.onInvalid(new ClientProtocolError(parsed.reason));
          return;
        }
        const frame = parsed.frame;
        if (!settled) {
          if (frame.type === 'welcome' && frame.ref === p.auth.id) {
            settled = true;
            p.clock.clearTimeout(timer);
            conn.welcomeFrame = frame;
            resolve(conn);
          } else if (frame.type === 'error' && frame.ref === p.auth.id) {
            fail(new RequestFailedError(frame), { code: 1000, reason: 'auth refused', local: true });
          }
          // Anything else before welcome is not ours to interpret (ignored).
          return;
        }
        p.onFrame(frame, conn);
      });
      socket.addEventListener('close', (ev: WebSocketCloseEvent) => {
        const info = { code: ev.code, reason: ev.reason, local: false };
        if (!settled) fail(new ConnectionClosedError(ev.code, ev.reason), info);
        else conn.finish(info, false);
      });
      // 'error' is always followed by 'close' (WHATWG and ws): nothing to do but not crash.
      socket.addEventListener('error', () => undefined);
    });
  }

  /** Write a frame; false when the socket is not open (the caller keeps it for the next one). */
  write(frame: ClientFrame): boolean {
    if (!this.isOpen) return false;
    try {
      this.socket.send(encodeClientFrame(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Close cleanly; the client stops listening at once. */
  close(code = 1000, reason = ''): void {
    this.finish({ code, reason, local: true }, true);
  }

  /** Give up on a connection that went silent: no closing handshake to wait for. */
  abandon(reason: string): void {
    const s = this.socket as WebSocketLike & { terminate?: () => void };
    if (!this.done && typeof s.terminate === 'function') {
      this.done = true;
      try {
        s.terminate();
      } catch {
        // already gone
      }
      this.resolveClosed({ code: 1006, reason, local: true });
      return;
    }
    this.finish({ code: 1006, reason, local: true }, true);
  }

  private finish(info: CloseInfo, closeSocket: boolean): void {
    if (this.done) return;
    this.done = true;
    if (closeSocket) {
      try {
        // 1006 cannot be sent; a browser throws on codes other than 1000 and 3000–4999.
        const code = info.code === 1000 || (info.code >= 3000 && info.code <= 4999) ? info.code : 1000;
        this.socket.close(code, info.reason.slice(0, 120));
      } catch {
        // closing a socket that never opened
      }
    }
    this.resolveClosed(info);
  }
}
