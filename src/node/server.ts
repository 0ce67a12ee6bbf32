/**
 * The region node: one node:http server that serves the WebSocket protocol at `/ws` and its HTTP
 * endpoints (routes/mod.ts: its own routes, then its HTTP modules; else 404).
 *
 * It owns no state of its own beyond connections: messages, cursors and homes live in messaging
 * (on the log and the bus), presence in presence. So a node can be drained, taken down and
 * replaced, and its clients resume elsewhere. This file resolves the options, listens, admits
 * upgrades and closes; assemble.ts builds what runs meanwhile, lifecycle.ts holds its state.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../errors/mod.js';
import { admitClientAddress, trustList } from '../http/client-address.js';
import { REGION_HEADER } from '../http/headers.js';
import { RateLimiter } from '../http/rate-limit.js';
import { sendError } from '../http/respond.js';
import { CloseCode } from '../protocol/mod.js';
import { AccessControl } from './access.js';
import { assembleNode } from './assemble.js';
import { Authenticator } from './auth.js';
import { drainSessions } from './drain.js';
import { resolveNodeOptions } from './options.js';
import type { RegionNodeOptions } from './options.js';
import { serve } from './routes/mod.js';
import type { FrontDoor, RouteContext } from './routes/mod.js';
import { refuse, WsEndpoint } from './ws.js';

export interface RegionNode {
  readonly region: string;
  readonly node: string;
  /** http://host:port the node listens on (ws://host:port/ws for clients). */
  readonly url: string;
  readonly port: number;
  /** Open WebSocket sessions. */
  readonly sessions: number;
  readonly draining: boolean;
  /** What /ready answers: not draining, not down, the bus connected and every module ready. */
  ready(): boolean;
  /** Migrate every client away and wait for them (see drain.ts); /ready is 503 from the start. */
  drain(opts?: { deadlineMs?: number }): Promise<void>;
  /** Simulate the region failing: stop listening and destroy every connection (no goodbyes). */
  takeDown(): Promise<void>;
  /** Listen again on the same port after `takeDown`. */
  bringUp(): Promise<void>;
  /** Close every connection (4500 if not drained), the modules and the listener. Idempotent. */
  close(): Promise<void>;
}

export async function startRegionNode(options: RegionNodeOptions): Promise<RegionNode> {
  const opts = resolveNodeOptions(options, randomBytes(4).toString('hex'));
  const auth = new Authenticator(opts.auth, opts.topology);
  await auth.ready();
  const access = new AccessControl(auth, opts.adminToken, opts.keys);
  // Behind these proxies the client is who X-Forwarded-For says (limits and audit `from`).
  const trusted = trustList(opts.trustedProxies);
  const modules = options.modules ?? [];
  const door: FrontDoor = { trusted, modules, limiter: opts.httpRateLimit === false ? undefined : new RateLimiter(opts.httpRateLimit) };
  // Upgrades have a budget of their own, bursty: a drain moves a region's clients at once.
  const upgrades = opts.upgradeRateLimit === false ? undefined : new RateLimiter(opts.upgradeRateLimit);
  const { ctx, lifecycle, view, bus, self, stopTimers, release } = assembleNode(options, opts, auth);
  const { sessions, metrics } = ctx;
  const routes: RouteContext = { node: ctx, lifecycle, bus, view, self, access, erasure: options.erasure, drain: () => node.drain(), onAdminDrain: options.onAdminDrain };
  const ws = new WsEndpoint(ctx);
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    // Every answer names the region that wrote it, whatever is in front (edge, haproxy, a cloud
    // load balancer): clients and operators see where they landed, and no proxy has to add it.
    res.setHeader(REGION_HEADER, opts.region);
    serve(routes, door, req, res).catch((err: unknown) => {
      ctx.onInternalError(err, 'http');
      if (!res.headersSent) sendError(res, 500, ErrorCode.InternalError, 'the server failed to handle this request');
      else if (!res.writableEnded) res.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket: Duplex) => {
    if (!socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/ws') return refuse(socket, 404, { error: { code: ErrorCode.NotFound, message: 'the WebSocket endpoint is /ws' } });
    // An upgrade costs a session, a socket and an auth check: limited by client address only
    // (its credential comes later, in the auth frame), in a limiter of its own.
    const address = admitClientAddress(req, trusted, socket);
    if (upgrades !== undefined) {
      const admission = upgrades.take(address);
      if (!admission.ok) {
        metrics.rateLimit('http');
        return refuse(socket, 429, { error: { code: ErrorCode.RateLimited, message: `too many WebSocket upgrades: at most ${upgrades.ratePerSec} per second per address` } }, { 'retry-after': String(admission.retryAfterS) });
      }
    }
    if (!lifecycle.accepting) return refuse(socket, 503, { error: { code: ErrorCode.Unavailable, message: 'this node is draining: connect to another region' } });
    if (!lifecycle.busUp) return refuse(socket, 503, { error: { code: ErrorCode.Unavailable, message: 'this node lost its bus: connect to another region' } }, bus.retryAfter);
    try {
      ws.upgrade(req, socket, head);
      metrics.connectionOpened();
    } catch (err) {
      ctx.onInternalError(err, 'upgrade');
      socket.destroy();
    }
  });

  const listen = (port: number): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(port, opts.host, () => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      });
    });

  let port: number;
  try {
    port = await listen(opts.port);
  } catch (err) {
    stopTimers();
    release();
    throw err;
  }
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;

  const stopListening = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  // The first drain and close are the only ones: later calls get the same promise.
  let drainP: Promise<void> | undefined;
  let closeP: Promise<void> | undefined;

  const node: RegionNode = {
    region: opts.region,
    node: opts.node,
    url,
    port,
    get sessions() {
      return sessions.size;
    },
    get draining() {
      return lifecycle.draining;
    },
    ready: () => lifecycle.ready(),
    drain(o = {}) {
      if (lifecycle.startDrain()) metrics.log.info({ event: 'drain', sessions: sessions.size }, 'node draining');
      drainP ??= drainSessions(ctx, view, modules, o.deadlineMs ?? opts.drainDeadlineMs);
      return drainP;
    },
    async takeDown() {
      if (!lifecycle.takeDown()) return;
      for (const s of [...sessions]) s.destroy();
      for (const s of sockets) s.destroy();
      await stopListening();
    },
    async bringUp() {
      if (!lifecycle.canBringUp) return;
      await listen(port);
      lifecycle.broughtUp();
    },
    close() {
      closeP ??= (async () => {
        lifecycle.close();
        stopTimers();
        for (const s of [...sessions]) s.close(CloseCode.SERVER_DRAINING, 'the node is shutting down');
        // Give close frames a moment to leave, then cut whatever is left.
        const until = performance.now() + 500;
        while (sessions.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
        for (const s of [...sessions]) s.destroy();
        release();
        ws.close();
        for (const m of modules) {
          try {
            await m.close?.();
          } catch (err) {
            ctx.onInternalError(err, `module ${m.name} close`);
          }
        }
        for (const s of sockets) s.destroy();
        await stopListening();
      })();
      return closeP;
    },
  };
  return node;
}
