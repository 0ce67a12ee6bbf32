/** `GET /v1/audit?limit=&before=&action=`: the region's audit trail, newest first (admin token only). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/mod.js';
import { isMeridianError } from '../errors/mod.js';
import type { AccessControl } from './access.js';
import { sendError, sendJson } from './http-api.js';

export async function handleAudit(req: IncomingMessage, res: ServerResponse, url: URL, access: AccessControl, audit: AuditLog | undefined): Promise<void> {
  if (req.method !== 'GET') return sendError(res, 405, 'METHOD_NOT_ALLOWED', 'GET the audit trail', { allow: 'GET' });
  const caller = await access.caller(req);
  if (caller.kind !== 'admin') {
    audit?.record({ actor: { kind: caller.kind === 'user' ? 'user' : 'anonymous', ...(caller.kind === 'user' ? { id: caller.user } : {}) }, action: 'audit.read', from: req.socket.remoteAddress ?? '', outcome: 'refused', status: caller.kind === 'user' ? 403 : 401 });
    return caller.kind === 'user'
      ? sendError(res, 403, 'FORBIDDEN', 'the audit trail is for operators (the admin token)')
      : sendError(res, 401, 'AUTH_FAILED', 'the audit trail needs Authorization: Bearer <admin token>', { 'www-authenticate': 'Bearer' });
  }
  if (audit === undefined) return sendError(res, 501, 'NOT_SUPPORTED', 'this node keeps no audit trail');
  const p = url.searchParams;
  const limit = p.get('limit');
  try {
    const entries = await audit.query({
      ...(limit === null ? {} : { limit: Number(limit) }),
      ...(p.get('before') === null ? {} : { before: p.get('before')! }),
      ...(p.get('action') === null ? {} : { action: p.get('action')! }),
    });
    const last = entries[entries.length - 1];
    sendJson(res, 200, { entries, ...(last !== undefined && entries.length === (limit === null ? 100 : Number(limit)) ? { next: `/v1/audit?before=${last.id}` } : {}) });
  } catch (err) {
    sendError(res, isMeridianError(err) ? 400 : 500, isMeridianError(err) ? 'INVALID_FIELD' : 'INTERNAL_ERROR', isMeridianError(err) ? err.message : 'the audit trail could not be read');
  }
}
