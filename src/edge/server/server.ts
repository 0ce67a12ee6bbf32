/**
 * The edge server: one node:http server that answers its own endpoints (`/health`, `/ready`,
 * `/v1/route`, `/v1/candidates`, `/v1/regions`, `/v1/admin/…`, `/v1/audit`, `/dashboard`), proxies `/v1/*` and `/ws` to the region
 * steering picks, and runs the health monitor that feeds steering. Request order: CORS (preflights end
 * here), rate limit (except /health and /ready, which load balancers poll), then the endpoint.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ErrorCode, isMeridianError } from '../../errors/mod.js';
import { trustedProxies } from '../../http/client-ip.js';
import { Dashboard } from '../dashboard/mod.js';
import { openGeoIp } from '../geoip.js';
import { HealthMonitor } from '../health/monitor.js';
import { handleAdmin, regionsView } from './admin.js';
import { handleEdgeAudit } from './audit.js';
import { candidatesCors, handleCandidates } from './candidates.js';
import type { EdgeContext } from './context.js';
import { applyCors, originAllowed } from './cors.js';
import { stopDrains } from './drain.js';
import { RegionLoad } from './load.js';
import { checkRegionUrls, DEFAULT_AFFINITY_COOKIE, DEFAULT_EDGE_PORT, DEFAULT_RATE_LIMIT, withTopologyCors } from './options.js';
import type { EdgeOptions } from './options.js';
import { createAgents, proxyHttp } from './proxy-http.js';
import { WsProxy } from './proxy-ws.js';
import { RateLimiter } from '../../http/rate-limit.js';
import { refuseUpgrade, sendError, sendJson } from '../../http/respond.js';
import { handleRoute } from './route.js';
import { handleEdgeObservability, routeLabel } from './metrics.js';
import { handleEdgeSlo } from './slo.js';
import { EdgeMetrics } from '../../observability/metrics.js';
import { createLogger } from '../../observability/logger.js';
import { requestIp } from './steer.js';

export interface Edge {
  /** http://host:port the edge listens on. */
  readonly url: string;
  readonly port: number;
  readonly monitor: HealthMonitor;
  readonly load: RegionLoad;
  /** Stop probing, close bridged WebSockets (1001) and the listener. */
  close(): Promise<void>;
}

/** Path and query of a request URL; the query is parsed only by the endpoints that read it. */
function splitUrl(raw: string | undefined): { path: string; query: () => URLSearchParams } {
  const s = raw ?? '/';
  const q = s.indexOf('?');
  return { path: q < 0 ? s : s.slice(0, q), query: () => new URLSearchParams(q < 0 ? '' : s.slice(q + 1)) };
}

export async function startEdge(given: EdgeOptions): Promise<Edge> {
  // Every reader of `options.cors` (CORS, the WebSocket check, /v1/candidates, the proxy's
  // header filter) sees the topology's origins when no list was given.
  const options = withTopologyCors(given);
  const urls = checkRegionUrls(options.topology, options.regionUrls);
  const trusted = trustedProxies(options.trustedProxies ?? []);
  const geoip = options.geoip === undefined ? await openGeoIp() : options.geoip;
  const clock = options.clock ?? Date.now;
  const monitor = new HealthMonitor({ regions: Object.fromEntries([...urls].map(([k, u]) => [k, u.origin])), probe: options.probe ?? {}, outlier: options.outlier ?? {}, clock });
  const load = new RegionLoad([...urls.keys()], clock);
  const metrics = new EdgeMetrics({ clock, regions: [...urls.keys()], log: createLogger({ base: { component: 'edge' } }) });
  metrics.setSources({ regions: () => [...urls.keys()], healthy: (r) => monitor.health(r).healthy, connections: (r) => load.connections(r), rps: (r) => load.rps(r) });
  const unwatch = monitor.subscribe((h) => metrics.healthChanged(h.region, h.healthy, { probeHealthy: h.probeHealthy, ejected: h.ejectedUntil !== null, lastError: h.lastError }));
  const ctx: EdgeContext = {
    topology: options.topology,
    urls,
    monitor,
    load,
    geoip,
    trusted,
    options,
    retryAfterS: Math.max(1, Math.ceil((monitor.probeConfig.intervalMs * monitor.probeConfig.upAfter) / 1000)),
    affinityCookie: options.affinity?.cookie ?? DEFAULT_AFFINITY_COOKIE,
    metrics,
  };
  const limiter = options.rateLimit === false ? undefined : new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT, clock);
  const agents = createAgents();
  const ws = new WsProxy(ctx);
  const dashboard = new Dashboard(ctx);

  const admit = (req: IncomingMessage): number | undefined => {
    if (limiter === undefined) return undefined;
    const a = limiter.take(requestIp(ctx, req) ?? 'unknown');
    if (!a.ok) metrics.rateLimited.inc();
    return a.ok ? undefined : a.retryAfterS;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { path, query } = splitUrl(req.url);
    if (path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (path === '/ready') {
      const healthy = monitor.all().filter((h) => h.healthy).map((h) => h.region);
      return sendJson(res, healthy.length > 0 ? 200 : 503, { ready: healthy.length > 0, healthy });
    }
    if (await handleEdgeObservability(ctx, metrics, req, res, path)) return;
    if (applyCors(options.cors, req, res)) return;
    const candidates = path === '/v1/candidates' && (req.method === 'GET' || req.method === 'HEAD');
    // Before the rate limit, so a page can read a 429 here too.
    if (candidates) candidatesCors(ctx, res);
    const wait = admit(req);
    if (wait !== undefined) return sendError(res, 429, ErrorCode.EdgeRateLimited, 'too many requests from this address', undefined, { 'retry-after': String(wait) });
    if (path === '/v1/route' && (req.method === 'GET' || req.method === 'HEAD')) return handleRoute(ctx, req, res, query());
    if (path === '/v1/regions' && (req.method === 'GET' || req.method === 'HEAD')) return sendJson(res, 200, regionsView(ctx));
    if (candidates) return handleCandidates(ctx, req, res);
    if (path.startsWith('/v1/admin/')) return handleAdmin(ctx, req, res, path);
    // The edge's own trail, not proxied (a region's is at its node).
    if (path === '/v1/audit') return handleEdgeAudit(ctx, req, res, query());
    if (path === '/v1/slo') return handleEdgeSlo(ctx, req, res);
    if (Dashboard.owns(path)) return dashboard.handle(req, res, path);
    if (path.startsWith('/v1/')) return proxyHttp(ctx, agents, req, res);
    sendError(res, 404, ErrorCode.EdgeNotFound, 'no such endpoint');
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (splitUrl(req.url).path !== '/ws') return refuseUpgrade(socket, 404, ErrorCode.EdgeNotFound, 'WebSockets are served at /ws');
    // Browsers do not apply CORS to WebSockets: check Origin here, or any site could open one.
    const origin = req.headers.origin;
    if (options.cors !== undefined && origin !== undefined && !originAllowed(options.cors, origin)) {
      return refuseUpgrade(socket, 403, ErrorCode.EdgeOriginNotAllowed, 'origin not allowed');
    }
    const wait = admit(req);
    if (wait !== undefined) return refuseUpgrade(socket, 429, ErrorCode.EdgeRateLimited, 'too many requests from this address', { 'Retry-After': String(wait) });
    await ws.handle(req, socket, head);
  }

  const server = createServer((req, res) => {
    res.once('finish', () => metrics.request(routeLabel(splitUrl(req.url).path), res.statusCode));
    handle(req, res).catch((err: unknown) => {
      if (isMeridianError(err)) sendError(res, 400, err.code, err.message);
      else sendError(res, 500, ErrorCode.EdgeInternal, 'internal error');
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head).catch((err: unknown) => {
      if (isMeridianError(err)) refuseUpgrade(socket, 400, err.code, err.message);
      else socket.destroy();
    });
  });

  await monitor.start();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_EDGE_PORT, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    monitor,
    load,
    async close() {
      monitor.stop();
      stopDrains(ctx);
      unwatch();
      dashboard.close();
      ws.closeAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
