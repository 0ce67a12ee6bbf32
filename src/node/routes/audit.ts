/** `GET /v1/audit?limit=&before=&action=`: the region's audit trail, newest first (API keys with the admin scope, and the deprecated admin token). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/mod.js';
import { ErrorCode, isMeridianError } from '../errors/mod.js';
import { hasScope, operatorActor } from './access.js';
import type { AccessControl } from './access.js';
import { sendError, sendJson } from '../http/respond.js';
import { clientAddress } from '../http/client-address.js';

export async function handleAudit(req: IncomingMessage, res: ServerResponse, url: URL, access: AccessControl, audit: AuditLog | undefined): Promise<void> {
  if (req.method !== 'GET') return sendError(res, 405, ErrorCode.MethodNotAllowed, 'GET the audit trail', undefined, { allow: 'GET' });
  const caller = await access.caller(req);
  if (!hasScope(caller, 'admin')) {
    const known = caller.kind === 'user' || caller.kind === 'key';
    const actor = caller.kind === 'key' ? operatorActor(caller) : caller.kind === 'user' ? { kind: 'user' as const, id: caller.user } : { kind: 'anonymous' as const };
    audit?.record({ actor, action: 'audit.read', from: clientAddress(req), outcome: 'refused', status: known ? 403 : 401 });
    if (known) return sendError(res, 403, ErrorCode.Forbidden, caller.kind === 'key' ? `API key ${caller.id} lacks the admin scope` : 'the audit trail is for operators (an API key with the admin scope)');
    return sendError(res, 401, ErrorCode.AuthFailed, `the audit trail needs Authorization: Bearer <API key with the admin scope>${caller.kind === 'invalid' ? `: ${caller.reason}` : ''}`, undefined, { 'www-authenticate': 'Bearer' });
  }
  if (audit === undefined) return sendError(res, 501, ErrorCode.NotSupported, 'this node keeps no audit trail');
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
    sendError(res, isMeridianError(err) ? 400 : 500, isMeridianError(err) ? ErrorCode.InvalidField : ErrorCode.InternalError, isMeridianError(err) ? err.message : 'the audit trail could not be read');
  }
}
