/**
 * `POST /v1/admin/drain`: drain this node (../drain.ts says how), for the edge's per-region drain
 * (src/edge/server/drain.ts) and operators; an API key with the admin scope. Answered 200 once
 * drained; with the runtime's drain-and-restart (`onAdminDrain`), 202 at once, since the restart
 * closes this server: the edge then waits for /ready again.
 */
import { clientAddress } from '../../http/client-address.js';
import { sendJson } from '../../http/respond.js';
import { operatorActor } from '../access.js';
import { requireScope } from './operator.js';
import type { Route } from './route.js';

export const adminDrain: Route = {
  path: '/v1/admin/drain',
  methods: ['POST'],
  notAllowed: 'POST to drain this node',
  async handle(c, { req, res }) {
    const caller = await requireScope(c, req, res, { scope: 'admin', action: 'admin.drain', what: 'draining' });
    if (caller === undefined) return;
    const { opts, sessions, audit } = c.node;
    audit?.record({ actor: operatorActor(caller), action: 'admin.drain', target: opts.node, from: clientAddress(req), outcome: 'ok' });
    const restart = c.onAdminDrain;
    if (restart !== undefined) {
      sendJson(res, 202, { draining: true, restarting: true, region: opts.region, node: opts.node, sessions: sessions.size, deadlineMs: opts.drainDeadlineMs });
      setImmediate(() => void restart().catch((err: unknown) => c.node.onInternalError(err, 'admin-drain')));
      return;
    }
    await c.drain();
    sendJson(res, 200, { drained: true, region: opts.region, node: opts.node, sessions: sessions.size, deadlineMs: opts.drainDeadlineMs });
  },
};
