/**
 * After an erasure, what SQLite still holds on disk: the write-ahead log keeps the page images
 * from before the delete until a checkpoint, and a file without `secure_delete` keeps deleted
 * rows in free pages until a VACUUM. This runs both from a second connection (better-sqlite3
 * allows it beside the owner's; the busy timeout waits out its writes), so the erased bytes are
 * gone from the files, not only from query results. The log's own connection runs with
 * `secure_delete = ON`, so the log needs only the checkpoint.
 */
import Database from 'better-sqlite3';

export function scrubSqliteFile(file: string, opts: { vacuum: boolean }): void {
  if (file === ':memory:') return;
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    if (opts.vacuum) db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
