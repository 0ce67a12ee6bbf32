/**
 * The region node's HTTP front door: the route table, and the walk server.ts runs for every
 * request. Order of a request:
 *
 * 1. a request target that does not parse is 400; the client address is resolved (behind
 *    trusted proxies, X-Forwarded-For's: rate limits and audit `from` use it);
 * 2. the first route of `ROUTES` whose path matches (a `pass` route only for its methods);
 * 3. unless the route is public, the per-credential rate limit (429 with Retry-After);
 * 4. a route that needs the bus is 503 while it is down; another method than the route's is 405;
 *    then its handler (under the bus watch: 503 if the bus goes meanwhile);
 * 5. no route: 503 while the bus is down (the modules need it), else the HTTP modules in order
 *    (services …, src/module/http-module.ts); else 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import { admitClientAddress } from '../../http/client-address.js';
import type { TrustedProxies } from '../../http/client-address.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import { sendError } from '../../http/respond.js';
import type { HttpModule } from '../../module/http-module.js';
import { audit } from './audit.js';
import { demo } from './demo.js';
import { adminDrain } from './drain.js';
import { erasures } from './erasures.js';
import { health, ready } from './health.js';
import { history } from './history.js';
import { messages } from './messages.js';
import { metrics, slo, stats } from './observability.js';
import { roomPresence, userPresence } from './presence.js';
import { regions } from './regions.js';
import type { Route, RouteContext } from './route.js';
import { upgradeRequired } from './websocket.js';

export type { Route, RouteContext, RouteRequest } from './route.js';

/** Every endpoint of the node itself, tried in this order (paths do not overlap: order is for reading). */
export const ROUTES: readonly Route[] = [
  // public: no rate limit
  health,
  ready,
  demo,
  metrics,
  stats,
  slo,
  // rate limited, served without the bus
  upgradeRequired,
  adminDrain,
  audit,
  erasures,
  regions,
  // rate limited, need the bus
  messages,
  userPresence,
  roomPresence,
  history,
];

/** What the walk needs besides the routes' context. */
export interface FrontDoor {
  readonly trusted: TrustedProxies;
  readonly limiter: RateLimiter | undefined;
  readonly modules: readonly HttpModule[];
}

/** The route serving `path` and `method`, with the path's captured segments. */
export function findRoute(path: string, method: string): { route: Route; params: readonly string[] } | undefined {
  for (const route of ROUTES) {
    let params: readonly string[];
    if (typeof route.path === 'string') {
      if (route.path !== path) continue;
      params = [];
    } else {
      const m = route.path.exec(path);
      if (m === null) continue;
      params = m.slice(1);
    }
    if (route.otherMethods === 'pass' && route.methods !== undefined && !route.methods.includes(method)) continue;
    return { route, params };
  }
  return undefined;
}

export async function serve(c: RouteContext, door: FrontDoor, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://node');
  } catch {
    return sendError(res, 400, ErrorCode.BadRequest, 'malformed request target');
  }
  admitClientAddress(req, door.trusted);
  const method = req.method ?? 'GET';
  const found = findRoute(url.pathname, method);
  if (found?.route.public !== true && door.limiter !== undefined) {
    const admission = door.limiter.take(c.access.rateKey(req));
    if (!admission.ok) {
      req.resume();
      c.node.metrics.rateLimit('http');
      return sendError(res, 429, ErrorCode.RateLimited, `too many requests: at most ${door.limiter.ratePerSec} per second per credential`, undefined, { 'retry-after': String(admission.retryAfterS) });
    }
  }
  if (found === undefined) {
    if (!c.lifecycle.busUp) {
      req.resume();
      return c.bus.unavailable(res);
    }
    const request = c.access.request(req);
    for (const m of door.modules) {
      if (await m.handle(req, res, url, request)) return;
    }
    return sendError(res, 404, ErrorCode.NotFound, 'no such endpoint');
  }
  const { route, params } = found;
  if (route.needsBus === true && !c.lifecycle.busUp) {
    req.resume();
    return c.bus.unavailable(res);
  }
  if (route.methods !== undefined && !route.methods.includes(method)) {
    req.resume();
    const allow = route.methods.filter((m) => m !== 'HEAD').join(', ');
    return sendError(res, 405, ErrorCode.MethodNotAllowed, route.notAllowed ?? `${url.pathname} takes ${allow}`, undefined, { allow });
  }
  const r = { req, res, url, params };
  if (route.needsBus === true) await c.bus.whileUp(res, async () => route.handle(c, r));
  else await route.handle(c, r);
}
