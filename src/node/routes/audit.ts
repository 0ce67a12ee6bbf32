/**
 * `GET /v1/audit?limit=&before=&action=`: the region's audit trail, newest first, `{ entries,
 * next? }` (API keys with the admin scope, and the deprecated admin token). 501 on a node that
 * keeps none; a bad parameter is 400.
 */
import { ErrorCode, isMeridianError } from '../../errors/mod.js';
import { sendError, sendJson } from '../../http/respond.js';
import { requireScope } from './operator.js';
import type { Route } from './route.js';

export const audit: Route = {
  path: '/v1/audit',
  methods: ['GET'],
  notAllowed: 'GET the audit trail',
  async handle(c, { req, res, url }) {
    if ((await requireScope(c, req, res, { scope: 'admin', action: 'audit.read', what: 'the audit trail' })) === undefined) return;
    const trail = c.node.audit;
    if (trail === undefined) return sendError(res, 501, ErrorCode.NotSupported, 'this node keeps no audit trail');
    const p = url.searchParams;
    const limit = p.get('limit');
    try {
      const entries = await trail.query({
        ...(limit === null ? {} : { limit: Number(limit) }),
        ...(p.get('before') === null ? {} : { before: p.get('before')! }),
        ...(p.get('action') === null ? {} : { action: p.get('action')! }),
      });
      const last = entries[entries.length - 1];
      sendJson(res, 200, { entries, ...(last !== undefined && entries.length === (limit === null ? 100 : Number(limit)) ? { next: `/v1/audit?before=${last.id}` } : {}) });
    } catch (err) {
      sendError(res, isMeridianError(err) ? 400 : 500, isMeridianError(err) ? ErrorCode.InvalidField : ErrorCode.InternalError, isMeridianError(err) ? err.message : 'the audit trail could not be read');
    }
  },
};
