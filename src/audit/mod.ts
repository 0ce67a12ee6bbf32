/**
 * The audit trail (src/audit/types.ts): an embedded SQLite store in the node's data dir, or a
 * JetStream KV bucket in the node's region. Entry point of src/audit.
 */
import { join } from 'node:path';
import type { Bus } from '../bus/types.js';
import { KvAuditStore } from './kv.js';
import { AuditLog } from './log.js';
import { SqliteAuditStore } from './sqlite.js';

export { actorOf } from './actor.js';
export { AuditLog } from './log.js';
export type { ActorKind, AuditEntry, AuditQuery, AuditStore, NewAuditEntry } from './types.js';

/** 90 days. */
export const DEFAULT_AUDIT_RETENTION_MS = 90 * 24 * 3600 * 1000;

/** SQLite under `dataDir/<region>/audit.db` when there is a data dir, else the bus KV. */
export async function openAuditLog(o: { bus: Bus; region: string; dataDir?: string | undefined; retentionMs?: number; onError?: (err: unknown) => void }): Promise<AuditLog> {
  const retention = o.retentionMs ?? DEFAULT_AUDIT_RETENTION_MS;
  const store = o.dataDir !== undefined ? new SqliteAuditStore(o.dataDir === ':memory:' ? ':memory:' : join(o.dataDir, o.region, 'audit.db'), retention) : await KvAuditStore.open(o.bus, retention);
  return new AuditLog(store, o.region, o.onError);
}
