/**
 * `/health` (the process answers) and `/ready` (it should be sent traffic: not draining, the bus
 * up, every module ready; else 503 with the reason), any method, before the rate limit: load
 * balancers and the edge poll them.
 */
import { sendJson } from '../../http/respond.js';
import type { Route } from './route.js';

export const health: Route = {
  path: '/health',
  public: true,
  handle: (c, { res }) => sendJson(res, 200, { status: 'ok', region: c.node.opts.region, node: c.node.opts.node }),
};

export const ready: Route = {
  path: '/ready',
  public: true,
  handle(c, { res }) {
    const { region, node } = c.node.opts;
    const ok = c.lifecycle.ready();
    const reason = c.lifecycle.notReadyReason();
    sendJson(res, ok ? 200 : 503, { ready: ok, region, node, ...(reason ? { reason } : {}) });
  },
};
