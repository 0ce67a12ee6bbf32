/**
 * The edge's audit trail: `GET /v1/audit?limit=&before=&action=`, newest first, the same shape
 * as a region node's (src/node/routes/audit.ts: `{ entries, next? }`), for API keys with the
 * `admin` scope (or the deprecated admin token; open with devAdmin, to loopback Hosts only, as
 * the other admin endpoints). admin.ts records into it: `region.down|up|drain` with their
 * outcome, and every refused admin request, folded per action and address per minute.
 *
 * It is the nodes' `AuditLog` (src/audit) over its SQLite store, not a store of the edge's own:
 * the edge has no bus, so the JetStream KV the nodes use on NATS is not an option, and a file
 * under `--data` is what an operator backs up anyway. Entries name region `edge`. This path is
 * the edge's own and is not proxied: a region's trail is at its node's `/v1/audit`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { AuditLog, DEFAULT_AUDIT_RETENTION_MS } from '../../audit/mod.js';
import { SqliteAuditStore } from '../../audit/sqlite.js';
import { ErrorCode } from '../../errors/mod.js';
import { adminCheck, adminEnabled, auditFrom, forgedAdminRequest, recordAdmin } from './admin.js';
import type { EdgeContext } from './context.js';
import { sendError, sendJson } from '../../http/respond.js';

/** What the edge's entries carry as their `region`. */
export const EDGE_AUDIT_REGION = 'edge';

/**
 * The file under a data dir: `<dir>/_edge/audit.db`. No region name starts with `_`
 * (src/topology/schema.ts), so `meridian up` keeps it beside the nodes' `<dir>/<region>/`.
 */
export function edgeAuditFile(dataDir: string): string {
  return join(dataDir, '_edge', 'audit.db');
}

/** The edge's audit trail in `dataDir` (SQLite, kept `retentionMs`, 90 days by default), or `:memory:`. */
export function openEdgeAuditLog(dataDir: string, o: { retentionMs?: number; onError?: (err: unknown) => void } = {}): AuditLog {
  const store = new SqliteAuditStore(dataDir === ':memory:' ? ':memory:' : edgeAuditFile(dataDir), o.retentionMs ?? DEFAULT_AUDIT_RETENTION_MS);
  return new AuditLog(store, EDGE_AUDIT_REGION, o.onError);
}

export async function handleEdgeAudit(ctx: EdgeContext, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
  // Off with the admin endpoints: nothing would be recorded, and nobody could read it.
  if (!adminEnabled(ctx)) return sendError(res, 404, ErrorCode.EdgeNotFound, 'no such endpoint: the audit trail needs admin enabled on this edge (--keys FILE)');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    req.resume();
    return sendError(res, 405, ErrorCode.InvalidArgument, 'GET the audit trail', undefined, { allow: 'GET' });
  }
  const check = adminCheck(ctx, req, 'audit reads');
  const forged = check.ok ? forgedAdminRequest(ctx, req, 'audit read', false) : undefined;
  if (!check.ok || forged !== undefined) {
    const status = check.ok ? 403 : check.status;
    recordAdmin(ctx, auditFrom(ctx, req), { actor: check.actor, action: 'audit.read', outcome: 'refused', status });
    if (!check.ok) return sendError(res, check.status, check.code, check.message, undefined, check.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    return sendError(res, 403, ErrorCode.EdgeOriginNotAllowed, forged!);
  }
  const audit = ctx.options.audit;
  if (audit === undefined) return sendError(res, 501, ErrorCode.NotAvailable, 'this edge keeps no audit trail');
  const limit = query.get('limit');
  const before = query.get('before');
  const action = query.get('action');
  // A bad query throws INVALID_ARGUMENT (src/audit/query.ts): the server answers 400 with it.
  const entries = await audit.query({ ...(limit === null ? {} : { limit: Number(limit) }), ...(before === null ? {} : { before }), ...(action === null ? {} : { action }) });
  const last = entries[entries.length - 1];
  const full = entries.length === (limit === null ? 100 : Number(limit));
  sendJson(res, 200, { entries, ...(last !== undefined && full ? { next: `/v1/audit?before=${last.id}${action === null ? '' : `&action=${encodeURIComponent(action)}`}` } : {}) });
}
