/**
 * The edge's observability endpoints (docs/observability.md has the shapes):
 *
 *   GET /metrics   Prometheus text exposition (the edge's registry + the process metrics)
 *   GET /stats     JSON summary: regions as the edge sees them, steering decisions of the last minute
 *
 * Served before the rate limit, like /health: monitoring must not be throttled away.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import { CONTENT_TYPE, exposition } from '../../observability/metrics.js';
import type { EdgeMetrics } from '../../observability/metrics.js';
import type { EdgeContext } from './context.js';
import { sendError, sendJson } from '../../http/respond.js';

const round = (v: number, digits = 3): number => Math.round(v * 10 ** digits) / 10 ** digits;

export function edgeStats(ctx: EdgeContext, m: EdgeMetrics): unknown {
  const regions: Record<string, { health: 'healthy' | 'unhealthy'; url: string; connections: number; rps: number }> = {};
  for (const [name, url] of ctx.urls) {
    regions[name] = { health: ctx.monitor.health(name).healthy ? 'healthy' : 'unhealthy', url: url.origin, connections: ctx.load.connections(name), rps: round(ctx.load.rps(name)) };
  }
  return {
    edge: true,
    uptimeS: round((m.clock() - m.startedAt) / 1000, 1),
    regions,
    decisions: m.decisionsByRegion.counts(),
    decisionReasons: m.decisionsByReason.counts(),
    requestsPerSec: round(m.requestRate.perSec()),
  };
}

/** Serve /metrics and /stats; false for any other path. */
export async function handleEdgeObservability(ctx: EdgeContext, m: EdgeMetrics, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  if (path !== '/metrics' && path !== '/stats') return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 405, ErrorCode.InvalidArgument, `${path} takes GET`, undefined, { allow: 'GET' });
    return true;
  }
  if (path === '/stats') {
    sendJson(res, 200, edgeStats(ctx, m));
    return true;
  }
  const text = await exposition(m.registry);
  res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : text);
  return true;
}

/** The route label of a request path (a bounded set). */
export function routeLabel(path: string): string {
  if (path === '/v1/route') return 'route';
  if (path === '/v1/regions') return 'regions';
  if (path === '/v1/slo') return 'slo';
  // Answered by the edge itself (candidates.ts), never proxied.
  if (path === '/v1/candidates') return 'candidates';
  if (path.startsWith('/v1/admin/')) return 'admin';
  if (path.startsWith('/v1/')) return 'proxy';
  if (path === '/health' || path === '/ready' || path === '/metrics' || path === '/stats') return path.slice(1);
  if (path.startsWith('/dashboard')) return 'dashboard';
  return 'other';
}
