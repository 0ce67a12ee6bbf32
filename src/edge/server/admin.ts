/**
 * The edge's own endpoints under /v1: `GET /v1/regions` (topology plus live health and load, so
 * an operator sees what steering sees) and the admin hooks
 * `POST /v1/admin/regions/{name}/down|up`, which call `onRegionDown` / `onRegionUp` (the local
 * runtime wires them to stop and revive a region), and `…/drain` (drain.ts: migrate the region's
 * clients away, restart it, show it `draining` until it is back). The edge does not mark the region itself: the
 * monitor notices, exactly as it would for a real outage, which is what the hooks are for.
 *
 * Admin is off (404) unless API keys (a keys file), a token or `devAdmin` is configured. With
 * keys or a token every call needs `Authorization: Bearer <API key>` whose scopes include `admin`
 * (403 `EDGE_FORBIDDEN` without it; 401 for an unknown, revoked or expired key) or the
 * deprecated admin token (compared in constant time). Each admin action is logged with the key
 * id that made it (never the key) and, when the edge has one (`options.audit`, audit.ts),
 * recorded in its audit trail: `region.down|up|drain` with their outcome, and every refusal.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEntry, NewAuditEntry } from '../../audit/mod.js';
import { ErrorCode } from '../../errors/mod.js';
import { bearer, SecretMatcher } from '../../http/bearer.js';
import { isLoopbackHost } from '../../http/host.js';
import type { EdgeContext } from './context.js';
import { drainRegion, regionState } from './drain.js';
import { sendError, sendJson } from '../../http/respond.js';
import { requestIp } from './steer.js';

export function regionsView(ctx: EdgeContext): unknown {
  return {
    regions: ctx.topology.regions.map((r) => ({
      name: r.name,
      city: r.location.city ?? null,
      location: { lat: r.location.lat, lon: r.location.lon },
      jurisdiction: r.jurisdiction,
      capacity: r.capacity,
      fallback: r.fallback,
      url: ctx.urls.get(r.name)?.origin ?? null,
      // ready | draining (POST …/drain until it is back) | down
      state: regionState(ctx, r.name),
      health: ctx.urls.has(r.name) ? ctx.monitor.health(r.name) : null,
      load: { connections: ctx.load.connections(r.name), rps: ctx.load.rps(r.name) },
    })),
    probe: ctx.monitor.probeConfig,
    outlier: ctx.monitor.outlierConfig,
  };
}

/** Admin needs a credential: API keys or a token are configured (else it is devAdmin or off). */
export function adminCredentialed(ctx: EdgeContext): boolean {
  return ctx.options.keys !== undefined || (ctx.options.adminToken !== undefined && ctx.options.adminToken !== '');
}

/** Admin is on at all: keys or a token are configured, or devAdmin is set. */
export function adminEnabled(ctx: EdgeContext): boolean {
  return adminCredentialed(ctx) || ctx.options.devAdmin === true;
}

/**
 * Who an admin request is (`who`: `key:<id>`, `admin-token` or `dev-admin`, for log lines; `actor`
 * for the audit trail, named as src/audit/actor.ts names a node's callers), or why it is refused.
 */
export type AdminCheck =
  | { readonly ok: true; readonly who: string; readonly actor: AuditEntry['actor'] }
  | { readonly ok: false; readonly status: 401 | 403; readonly code: ErrorCode; readonly message: string; readonly who?: string; readonly actor: AuditEntry['actor'] };

/**
 * The credential of an admin request: an API key with the `admin` scope, the deprecated admin
 * token (constant-time compare), or nothing with devAdmin and no credential configured.
 */
export function adminCheck(ctx: EdgeContext, req: IncomingMessage, what = 'admin endpoints'): AdminCheck {
  if (!adminCredentialed(ctx)) {
    return ctx.options.devAdmin === true ? { ok: true, who: 'dev-admin', actor: { kind: 'dev' } } : { ok: false, status: 401, code: ErrorCode.EdgeUnauthorized, message: `${what} are off`, actor: { kind: 'anonymous' } };
  }
  const presented = bearer(req.headers.authorization);
  // A refused key is named by id (not a secret: it says which key someone tried), as anonymous.
  const unauthorized = (why: string, keyId?: string): AdminCheck => ({
    ok: false,
    status: 401,
    code: ErrorCode.EdgeUnauthorized,
    message: `${what} need Authorization: Bearer <API key with the admin scope>${why}`,
    ...(keyId === undefined ? { actor: { kind: 'anonymous' } } : { who: `key:${keyId}`, actor: { kind: 'anonymous', id: `key:${keyId}` } }),
  });
  if (presented === undefined) return unauthorized('');
  const token = ctx.options.adminToken;
  if (token !== undefined && token !== '' && new SecretMatcher(token).matches(presented)) return { ok: true, who: 'admin-token', actor: { kind: 'admin' } };
  const k = ctx.options.keys?.check(presented);
  if (k === undefined) return unauthorized('');
  if (!k.ok) return unauthorized(k.reason === 'expired' ? `: API key ${k.id} has expired` : `: API key ${k.id} is not known (revoked, or never issued)`, k.id);
  if (!k.scopes.has('admin')) return { ok: false, status: 403, code: ErrorCode.EdgeForbidden, message: `API key ${k.id} lacks the admin scope`, who: `key:${k.id}`, actor: { kind: 'admin', id: k.id } };
  return { ok: true, who: `key:${k.id}`, actor: { kind: 'admin', id: k.id } };
}

/** The client address an audit entry names (X-Forwarded-For as far as trusted proxies vouch for it). */
export function auditFrom(ctx: EdgeContext, req: IncomingMessage): string {
  return requestIp(ctx, req) ?? req.socket.remoteAddress ?? '';
}

/** Into the edge's audit trail, if it keeps one (`options.audit`). */
export function recordAdmin(ctx: EdgeContext, from: string, e: Omit<NewAuditEntry, 'from'>): void {
  ctx.options.audit?.record({ ...e, from });
}

/** `adminCheck` as yes or no (the dashboard's admin feed). */
export function adminAuthorized(ctx: EdgeContext, req: IncomingMessage): boolean {
  return adminCheck(ctx, req).ok;
}

/**
 * Why an admin request (or the dashboard's admin feed, `what`) looks forged, if it does: a browser
 * page of another origin (its Origin is not this host), or — with --dev-admin, where no token
 * protects it — a Host that is not a loopback name (a DNS-rebound page), or, for state-changing
 * calls (`nonSimple`), a simple request (no JSON type, no X-Meridian-Admin header).
 */
export function forgedAdminRequest(ctx: EdgeContext, req: IncomingMessage, what: string, nonSimple: boolean): string | undefined {
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  if (origin === 'null') return `${what} from an opaque origin refused`;
  if (origin !== undefined) {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return 'malformed Origin';
    }
    if (originHost !== host) return `cross-site ${what} from ${origin.slice(0, 100)} refused`;
  }
  if (!adminCredentialed(ctx)) {
    if (!isLoopbackHost(host)) return `--dev-admin answers only requests to a loopback Host, not ${host.slice(0, 100)}`;
    if (nonSimple && !/^application\/json\b/i.test(req.headers['content-type'] ?? '') && req.headers['x-meridian-admin'] === undefined) {
      return '--dev-admin needs Content-Type: application/json or an X-Meridian-Admin header (no simple cross-site requests)';
    }
  }
  return undefined;
}

export const ADMIN_PATH = /^\/v1\/admin\/regions\/([^/]+)\/(down|up|drain)$/;

export async function handleAdmin(ctx: EdgeContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const m = ADMIN_PATH.exec(path);
  if (!adminEnabled(ctx) || m === null) return sendError(res, 404, ErrorCode.EdgeNotFound, 'no such endpoint');
  if (req.method !== 'POST') return sendError(res, 405, ErrorCode.InvalidArgument, 'admin endpoints take POST', undefined, { allow: 'POST' });
  const action = m[2] === 'down' ? 'down' : m[2] === 'drain' ? 'drain' : 'up';
  let region: string | undefined;
  try {
    region = decodeURIComponent(m[1] ?? '');
  } catch {
    region = undefined;
  }
  // What the audit entry names: the region as asked for (cut: refusals come from anyone).
  const target = (region ?? m[1] ?? '').slice(0, 64);
  const check = adminCheck(ctx, req);
  const from = req.socket.remoteAddress ?? '';
  // Taken now: a drain's failure is recorded after the request's socket is gone.
  const client = auditFrom(ctx, req);
  if (!check.ok) {
    ctx.metrics.log.warn({ event: 'admin_refused', path: path.slice(0, 200), status: check.status, ...(check.who === undefined ? {} : { who: check.who }), from }, 'admin request refused');
    recordAdmin(ctx, client, { actor: check.actor, action: `region.${action}`, target, outcome: 'refused', status: check.status });
    return sendError(res, check.status, check.code, check.message, undefined, check.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
  }
  const forged = forgedAdminRequest(ctx, req, 'admin request', true);
  if (forged !== undefined) {
    recordAdmin(ctx, client, { actor: check.actor, action: `region.${action}`, target, outcome: 'refused', status: 403 });
    return sendError(res, 403, ErrorCode.EdgeOriginNotAllowed, forged);
  }
  const failed = (status: number, code: ErrorCode, message: string): void => {
    recordAdmin(ctx, client, { actor: check.actor, action: `region.${action}`, target, outcome: 'failed', status });
    sendError(res, status, code, message);
  };
  if (region === undefined) return failed(404, ErrorCode.EdgeUnknownRegion, 'malformed region name');
  if (!ctx.topology.regions.some((r) => r.name === region)) return failed(404, ErrorCode.EdgeUnknownRegion, `no region named ${region.slice(0, 64)}`);
  // The log line says who (the key id, never the key); the audit trail keeps it (audit.ts).
  ctx.metrics.log.info({ event: 'admin', action: `region.${action}`, region, who: check.who, from }, `admin: region ${action}`);
  if (action === 'drain') {
    // Answered at once; GET /v1/regions shows `draining` until the region is back (drain.ts).
    if (!ctx.urls.has(region)) return failed(404, ErrorCode.EdgeUnknownRegion, `region ${region.slice(0, 64)} has no URL on this edge`);
    // Without a drain hook the edge asks the node with the credential this request presented.
    const d = drainRegion(ctx, region, req.headers.authorization);
    recordAdmin(ctx, client, { actor: check.actor, action: 'region.drain', target: region, outcome: 'ok', status: 202 });
    d.done.catch((err: unknown) => {
      ctx.metrics.log.warn({ event: 'drain_failed', region, err: err instanceof Error ? err.message : String(err) }, 'region drain failed');
      // Accepted above; this says it did not finish (the region was not back in time, or its node refused).
      if (d.started) recordAdmin(ctx, client, { actor: check.actor, action: 'region.drain', target: region, outcome: 'failed' });
    });
    return sendJson(res, 202, { region, action, started: d.started, state: regionState(ctx, region) });
  }
  const hook = action === 'down' ? ctx.options.onRegionDown : ctx.options.onRegionUp;
  if (hook === undefined) return failed(501, ErrorCode.NotAvailable, `no on-region-${action} hook is configured on this edge`);
  try {
    await hook(region);
  } catch (err) {
    recordAdmin(ctx, client, { actor: check.actor, action: `region.${action}`, target: region, outcome: 'failed', status: 500 });
    throw err;
  }
  recordAdmin(ctx, client, { actor: check.actor, action: `region.${action}`, target: region, outcome: 'ok', status: 202 });
  sendJson(res, 202, { region, action, health: ctx.urls.has(region) ? ctx.monitor.health(region) : null });
}
