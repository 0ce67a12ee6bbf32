/** The checks of an audit query, shared by both stores. */
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { AuditEntry, AuditQuery } from './types.js';

export function checkQuery(q: AuditQuery): { limit: number; before?: string; action?: string; prefix: boolean } {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new MeridianError(ErrorCode.InvalidArgument, 'limit: an integer from 1 to 1000');
  const prefix = q.action?.endsWith('.') === true;
  return { limit, ...(q.before === undefined ? {} : { before: q.before }), ...(q.action === undefined ? {} : { action: q.action }), prefix };
}

/** Whether an entry passes the query's filters (the KV store filters in memory). */
export function matches(e: AuditEntry, q: { before?: string; action?: string; prefix: boolean }): boolean {
  if (q.before !== undefined && !(e.id < q.before)) return false;
  if (q.action !== undefined && !(q.prefix ? e.action.startsWith(q.action) : e.action === q.action)) return false;
  return true;
}
