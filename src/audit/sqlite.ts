/** The embedded audit store: one better-sqlite3 file per region node (WAL, synchronous=FULL). */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditEntry, AuditQuery, AuditStore } from './types.js';
import { checkQuery } from './query.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (id TEXT PRIMARY KEY, action TEXT NOT NULL, at INTEGER NOT NULL, doc TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
`;

export class SqliteAuditStore implements AuditStore {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;

  constructor(
    file: string,
    readonly retentionMs: number,
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(SCHEMA);
  }

  append(e: AuditEntry): Promise<void> {
    this.#db.prepare('INSERT OR IGNORE INTO audit (id, action, at, doc) VALUES (?, ?, ?, ?)').run(e.id, e.action, e.at, JSON.stringify(e));
    this.#db.prepare('DELETE FROM audit WHERE at < ?').run(e.at - this.retentionMs);
    return Promise.resolve();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- async so a bad query rejects, never throws
  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const { limit, before, action, prefix } = checkQuery(q);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (before !== undefined) {
      where.push('id < ?');
      args.push(before);
    }
    if (action !== undefined) {
      where.push(prefix ? 'substr(action, 1, ?) = ?' : 'action = ?');
      if (prefix) args.push(action.length);
      args.push(action);
    }
    const rows = this.#db.prepare<(string | number)[], { doc: string }>(`SELECT doc FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`).all(...args);
    return rows.map((r) => JSON.parse(r.doc) as AuditEntry);
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}
