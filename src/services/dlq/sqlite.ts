/**
 * `SqliteDeadLetterQueue`: the embedded DLQ, one better-sqlite3 file per region node (WAL,
 * synchronous=FULL: `put` returns after the letter is on disk). A letter is one row: the JSON
 * document plus the columns the listing orders and filters on. better-sqlite3 is synchronous and
 * every method is one statement or one transaction, so concurrent replays cannot lose a record.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkList, closedError, notFound, withReplay } from './common.js';
import type { AttemptRecord, DeadLetter, DeadLetterQueue, ListOptions, NewDeadLetter } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dlq (
  id TEXT PRIMARY KEY,
  fn TEXT NOT NULL,
  dead_at INTEGER NOT NULL,
  doc TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dlq_order ON dlq (dead_at, id);
`;

export class SqliteDeadLetterQueue implements DeadLetterQueue {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private closed = false;

  /** `file`: a path (directories are created) or `:memory:`. */
  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
  }

  put(letter: NewDeadLetter): Promise<DeadLetter> {
    return this.run(() => {
      const full: DeadLetter = { ...letter, state: 'dead', replays: [] };
      const r = this.db.prepare('INSERT INTO dlq (id, fn, dead_at, doc) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING').run(full.id, full.function, full.deadAt, JSON.stringify(full));
      return r.changes === 1 ? full : this.read(full.id)!;
    });
  }

  get(id: string): Promise<DeadLetter | null> {
    return this.run(() => this.read(id));
  }

  list(opts: ListOptions = {}): Promise<DeadLetter[]> {
    return this.run(() => {
      const limit = checkList(opts);
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (opts.function !== undefined) {
        where.push('fn = ?');
        args.push(opts.function);
      }
      if (opts.after !== undefined) {
        const cur = this.db.prepare<[string], { dead_at: number }>('SELECT dead_at FROM dlq WHERE id = ?').get(opts.after);
        if (cur) {
          where.push('(dead_at > ? OR (dead_at = ? AND id > ?))');
          args.push(cur.dead_at, cur.dead_at, opts.after);
        }
      }
      const sql = `SELECT doc FROM dlq ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY dead_at, id LIMIT ?`;
      return this.db
        .prepare<(string | number)[], { doc: string }>(sql)
        .all(...args, limit)
        .map((r) => JSON.parse(r.doc) as DeadLetter);
    });
  }

  recordReplay(id: string, outcome: AttemptRecord): Promise<DeadLetter> {
    return this.run(() =>
      this.db.transaction(() => {
        const cur = this.read(id);
        if (!cur) throw notFound(id);
        const next = withReplay(cur, outcome);
        this.db.prepare('UPDATE dlq SET doc = ? WHERE id = ?').run(JSON.stringify(next), id);
        return next;
      })(),
    );
  }

  delete(id: string): Promise<boolean> {
    return this.run(() => this.db.prepare('DELETE FROM dlq WHERE id = ?').run(id).changes === 1);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }

  private read(id: string): DeadLetter | null {
    const row = this.db.prepare<[string], { doc: string }>('SELECT doc FROM dlq WHERE id = ?').get(id);
    return row ? (JSON.parse(row.doc) as DeadLetter) : null;
  }

  // async: a throw inside `fn` becomes a rejection, as the contract's callers expect.
  private async run<T>(fn: () => T): Promise<T> {
    await Promise.resolve();
    if (this.closed) throw closedError();
    return fn();
  }
}
