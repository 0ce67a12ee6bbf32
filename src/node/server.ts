/**
 * The region node: one node:http server that serves the WebSocket protocol at `/ws`, its own
 * HTTP endpoints (`/health`, `/ready`, `/v1/…`, the demo page at `/`), then offers every other
 * request to its HTTP modules in order; else 404.
 *
 * It owns no state of its own beyond connections: messages, cursors and homes live in messaging
 * (on the log and the bus), presence in presence. So a node can be drained, taken down and
 * replaced, and its clients resume elsewhere.
 */
import { REGION_HEADER } from '../http/headers.js';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../errors/mod.js';
import { CloseCode, SUBPROTOCOL } from '../protocol/mod.js';
import type { WelcomeLimits } from '../protocol/mod.js';
import type { HttpModule } from '../module/http-module.js';
import { admitClientAddress, clientAddress, trustList } from '../http/client-address.js';
import { RateLimiter } from '../http/rate-limit.js';
import { AccessControl, hasScope, operatorActor } from './access.js';
import { handleAudit } from './audit-route.js';
import { handleErasures } from './erasure-route.js';
import { Authenticator } from './auth.js';
import type { NodeContext, SessionRef } from './context.js';
import { demoPage } from './demo.js';
import { BusWatch } from './bus-watch.js';
import { drainSessions, evacuate, migrationTarget } from './drain.js';
import { handleApi } from './http-api.js';
import { sendError, sendJson } from '../http/respond.js';
import { deliveryStats, handleObservability, regionRtts } from './metrics-route.js';
import { NodeMetrics } from '../observability/metrics.js';
import { createLogger } from '../observability/logger.js';
import { sloTargetsFor } from '../topology/mod.js';
import type { HttpApiContext } from './http-api.js';
import { resolveNodeOptions } from './options.js';
import type { RegionNodeOptions } from './options.js';
import { PresenceHub } from './presence-hub.js';
import { RegionView } from './regions.js';
import type { NodeState } from './regions.js';
import { WsEndpoint, refuse } from './ws.js';

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

function defaultOnError(err: unknown, where: string): void {
  process.stderr.write(`meridian node: unexpected error in ${where}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
}

export async function startRegionNode(options: RegionNodeOptions): Promise<RegionNode> {
  const opts = resolveNodeOptions(options, randomBytes(4).toString('hex'));
  const auth = new Authenticator(opts.auth, opts.topology);
  await auth.ready();
  const access = new AccessControl(auth, opts.adminToken, opts.keys);
  const limiter = opts.httpRateLimit === false ? undefined : new RateLimiter(opts.httpRateLimit);
  // Upgrades have a budget of their own, bursty: a drain moves a region's clients at once.
  const upgrades = opts.upgradeRateLimit === false ? undefined : new RateLimiter(opts.upgradeRateLimit);
  // Behind these proxies the client is who X-Forwarded-For says (limits and audit `from`).
  const trusted = trustList(opts.trustedProxies);
  const modules: readonly HttpModule[] = options.modules ?? [];
  const welcomeLimits: WelcomeLimits = { ...opts.limits };
  const sessions = new Set<SessionRef>();
  const metrics =
    options.metrics ??
    new NodeMetrics({ region: opts.region, node: opts.node, regions: opts.topology.regions.map((r) => r.name), slo: sloTargetsFor(opts.topology, opts.region), log: createLogger({ base: { region: opts.region, node: opts.node } }) });
  const ctx: NodeContext = {
    opts,
    messaging: options.messaging,
    presence: options.presence,
    auth,
    hub: new PresenceHub(options.presence),
    welcomeLimits,
    sessions,
    onInternalError: options.onError ?? defaultOnError,
    metrics,
    audit: options.audit,
    residencyTarget: async (user) => {
      const scope = auth.residency.ofUser(user);
      if (scope.mode !== 'strict' || scope.regions === undefined || scope.regions.includes(opts.region)) return undefined;
      const allowed = scope.regions;
      // `view` is made below; sessions ask only after they authenticated, long after.
      return migrationTarget(ctx, view, (r: string) => allowed.includes(r));
    },
  };
  let draining = false;
  let down = false;
  let closed = false;
  const self = (): NodeState => ({ region: opts.region, node: opts.node, draining, ready: ready(), sessions: sessions.size, ...deliveryStats(metrics) });
  const view = new RegionView(options.bus, opts.topology, self);
  metrics.setSources({
    connections: () => sessions.size,
    sessions: () => metrics.authenticatedSessions ?? sessions.size,
    draining: () => draining,
    rtt: () => regionRtts(view, opts.region),
  });
  const api: HttpApiContext = { ctx, view, self, access };
  // A reload of the keys file (a key added, revoked or edited) is an operator action: audited
  // by key id here, in this region's trail (src/keys/ring.ts notices it within a second).
  const unwatchKeys = opts.keys?.onChange((c) => {
    const actor = { kind: 'admin' as const, id: 'keys-file' };
    for (const id of c.added) options.audit?.record({ actor, action: 'keys.added', target: id, outcome: 'ok' });
    for (const id of c.removed) options.audit?.record({ actor, action: 'keys.removed', target: id, outcome: 'ok' });
    for (const id of c.changed) options.audit?.record({ actor, action: 'keys.changed', target: id, outcome: 'ok' });
  });
  const ws = new WsEndpoint(ctx);
  const sockets = new Set<Socket>();

  // Losing the bus (bus-watch.ts): not ready and 503 at once; after two heartbeat intervals the
  // clients are sent to the nearest region last heard healthy (drain.ts, evacuate), else 4505.
  const bus = new BusWatch(options.bus, {
    graceMs: 2 * opts.heartbeatMs,
    retryAfterS: Math.max(1, Math.ceil(opts.heartbeatMs / 1000)),
    onStatus: (type) => metrics.busStatus(type),
    onChange: (up) => view.setBusUp(up),
    onLost() {
      if (draining || down || closed) return;
      const deadlineMs = Math.min(opts.drainDeadlineMs, Math.max(1000, 2 * opts.heartbeatMs));
      evacuate(ctx, view, deadlineMs, () => bus.up || closed || down).catch((err: unknown) => ctx.onInternalError(err, 'evacuate'));
    },
  });
  // What the node knows of the other regions when its bus goes: asked again every few seconds.
  const refresh = setInterval(() => void view.refresh(), Math.max(500, Math.min(5000, opts.heartbeatMs)));
  refresh.unref();
  void view.refresh();

  const ready = (): boolean => !draining && !down && !closed && bus.up && modules.every((m) => m.ready?.() ?? true);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://node');
    } catch {
      return sendError(res, 400, ErrorCode.BadRequest, 'malformed request target');
    }
    const path = url.pathname;
    admitClientAddress(req, trusted);
    if (path === '/health') return sendJson(res, 200, { status: 'ok', region: opts.region, node: opts.node });
    if (path === '/ready') {
      const ok = ready();
      const reason = draining ? 'draining' : !bus.up ? 'bus_disconnected' : ok ? undefined : 'module_not_ready';
      return sendJson(res, ok ? 200 : 503, { ready: ok, region: opts.region, node: opts.node, ...(reason ? { reason } : {}) });
    }
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      const html = demoPage(opts.region, opts.node, auth.dev);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : html);
      return;
    }
    if (await handleObservability(metrics, view, req, res, path)) return;
    if (limiter !== undefined) {
      const admission = limiter.take(access.rateKey(req));
      if (!admission.ok) {
        req.resume();
        metrics.rateLimit('http');
        return sendError(res, 429, ErrorCode.RateLimited, `too many requests: at most ${limiter.ratePerSec} per second per credential`, undefined, { 'retry-after': String(admission.retryAfterS) });
      }
    }
    if (path === '/ws') return sendError(res, 426, ErrorCode.UpgradeRequired, `connect with a WebSocket offering the ${SUBPROTOCOL} subprotocol`, undefined, { upgrade: 'websocket' });
    if (path === '/v1/admin/drain') {
      // The edge's per-region drain asks here (src/edge/server/drain.ts); answered once drained.
      if (req.method !== 'POST') return sendError(res, 405, ErrorCode.MethodNotAllowed, 'POST to drain this node', undefined, { allow: 'POST' });
      const caller = await access.caller(req);
      if (!hasScope(caller, 'admin')) {
        // A valid credential without the admin scope is 403; none, or one that did not verify, 401.
        const known = caller.kind === 'key' || caller.kind === 'user';
        const actor = caller.kind === 'key' ? operatorActor(caller) : caller.kind === 'user' ? { kind: 'user' as const, id: caller.user } : { kind: 'anonymous' as const };
        options.audit?.record({ actor, action: 'admin.drain', from: clientAddress(req), outcome: 'refused', status: known ? 403 : 401 });
        if (known) return sendError(res, 403, ErrorCode.Forbidden, caller.kind === 'key' ? `API key ${caller.id} lacks the admin scope` : 'draining is for operators (an API key with the admin scope)');
        return sendError(res, 401, ErrorCode.AuthFailed, `draining needs Authorization: Bearer <API key with the admin scope>${caller.kind === 'invalid' ? `: ${caller.reason}` : ''}`, undefined, { 'www-authenticate': 'Bearer' });
      }
      options.audit?.record({ actor: operatorActor(caller), action: 'admin.drain', target: opts.node, from: clientAddress(req), outcome: 'ok' });
      if (options.onAdminDrain !== undefined) {
        // The restart closes this server: answer first, the edge then waits for /ready again.
        sendJson(res, 202, { draining: true, restarting: true, region: opts.region, node: opts.node, sessions: sessions.size, deadlineMs: opts.drainDeadlineMs });
        const restart = options.onAdminDrain;
        setImmediate(() => void restart().catch((err: unknown) => ctx.onInternalError(err, 'admin-drain')));
        return;
      }
      await node.drain();
      return sendJson(res, 200, { drained: true, region: opts.region, node: opts.node, sessions: sessions.size, deadlineMs: opts.drainDeadlineMs });
    }
    if (path === '/v1/audit') return handleAudit(req, res, url, access, options.audit);
    if (await handleErasures({ access, audit: options.audit, erasure: options.erasure, maxIdLength: opts.limits.maxIdLength }, req, res, path)) return;
    // Everything below needs the bus (messaging, presence, the modules), except /v1/regions.
    const needsBus = path !== '/v1/regions';
    if (needsBus && !bus.up) {
      req.resume();
      return bus.unavailable(res);
    }
    if (await (needsBus ? bus.whileUp(res, () => handleApi(api, req, res, url)) : handleApi(api, req, res, url))) return;
    const request = access.request(req);
    for (const m of modules) {
      if (await m.handle(req, res, url, request)) return;
    }
    sendError(res, 404, ErrorCode.NotFound, 'no such endpoint');
  }

  const server = createServer((req, res) => {
    // Every answer names the region that wrote it, whatever is in front (edge, haproxy, a cloud
    // load balancer): clients and operators see where they landed, and no proxy has to add it.
    res.setHeader(REGION_HEADER, opts.region);
    handle(req, res).catch((err: unknown) => {
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
    if (draining || closed || down) return refuse(socket, 503, { error: { code: ErrorCode.Unavailable, message: 'this node is draining: connect to another region' } });
    if (!bus.up) return refuse(socket, 503, { error: { code: ErrorCode.Unavailable, message: 'this node lost its bus: connect to another region' } }, bus.retryAfter);
    try {
      ws.upgrade(req, socket, head);
      metrics.connectionOpened();
    } catch (err) {
      ctx.onInternalError(err, 'upgrade');
      socket.destroy();
    }
  });

  const sweepMs = Math.max(10, Math.min(1000, Math.floor(Math.min(opts.authTimeoutMs, opts.idleTimeoutMs) / 4)));
  const sweep = setInterval(() => {
    const now = performance.now();
    const wall = Date.now();
    for (const s of sessions) s.sweep(now, wall);
  }, sweepMs);
  sweep.unref();

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
    clearInterval(sweep);
    clearInterval(refresh);
    bus.close();
    ctx.hub.close();
    view.close();
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
      return draining;
    },
    ready,
    drain(o = {}) {
      if (!draining) metrics.log.info({ event: 'drain', sessions: sessions.size }, 'node draining');
      draining = true;
      drainP ??= drainSessions(ctx, view, modules, o.deadlineMs ?? opts.drainDeadlineMs);
      return drainP;
    },
    async takeDown() {
      if (down || closed) return;
      down = true;
      for (const s of [...sessions]) s.destroy();
      for (const s of sockets) s.destroy();
      await stopListening();
    },
    async bringUp() {
      if (!down || closed) return;
      await listen(port);
      down = false;
    },
    close() {
      closeP ??= (async () => {
        draining = true;
        closed = true;
        unwatchKeys?.();
        clearInterval(sweep);
        clearInterval(refresh);
        bus.close();
        for (const s of [...sessions]) s.close(CloseCode.SERVER_DRAINING, 'the node is shutting down');
        // Give close frames a moment to leave, then cut whatever is left.
        const until = performance.now() + 500;
        while (sessions.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
        for (const s of [...sessions]) s.destroy();
        ctx.hub.close();
        view.close();
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
