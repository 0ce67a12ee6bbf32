/**
 * The node's observability endpoints (docs/observability.md has the shapes), GET, public like
 * /health (counts, never user data) and before the rate limit (scrapers poll them):
 *
 *   GET /metrics   Prometheus text exposition (this node's registry + the process metrics)
 *   GET /stats     small JSON summary for humans and the dashboard
 *   GET /v1/slo    the SLO evaluation over 5 min and 1 h
 */
import { sendJson } from '../../http/respond.js';
import { CONTENT_TYPE, exposition } from '../../observability/metrics.js';
import { nodeSlo, nodeStats } from '../stats.js';
import type { Route } from './route.js';

const GET = ['GET', 'HEAD'];

export const metrics: Route = {
  path: '/metrics',
  methods: GET,
  public: true,
  async handle(c, { req, res }) {
    const text = await exposition(c.node.metrics.registry);
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : text);
  },
};

export const stats: Route = {
  path: '/stats',
  methods: GET,
  public: true,
  handle: async (c, { res }) => sendJson(res, 200, await nodeStats(c.node.metrics, c.view)),
};

export const slo: Route = {
  path: '/v1/slo',
  methods: GET,
  public: true,
  handle: (c, { res }) => sendJson(res, 200, nodeSlo(c.node.metrics)),
};
