/**
 * Schema and prepared statements of the embedded message log (embedded.ts): a table per concept.
 *
 * - `log_conversations`: the seq counter of each conversation. Kept apart from the entries so
 *   erasure and retention, which delete entries, never lower it.
 * - `log_messages`: the entries, keyed (conversation, seq); indexed by sender for `eraseFrom`
 *   and by timestamp for the age sweep.
 * - `log_dedupe`: idempotency keys with their original seq and timestamp, until `expires`. Holds
 *   no content, so erasure leaves it: a late retry learns its original is gone instead of
 *   storing the erased message again.
 */
import type Database from 'better-sqlite3';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS log_conversations (
  conversation TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_messages (
  conversation TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL,
  sender TEXT NOT NULL,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body BLOB NOT NULL,
  headers TEXT NOT NULL,
  PRIMARY KEY (conversation, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS log_messages_sender ON log_messages (sender);
CREATE INDEX IF NOT EXISTS log_messages_ts ON log_messages (ts);
CREATE TABLE IF NOT EXISTS log_dedupe (
  conversation TEXT NOT NULL,
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (conversation, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS log_dedupe_expires ON log_dedupe (expires);
`;

export interface MessageRow {
  conversation: string;
  seq: number;
  id: string;
  sender: string;
  ts: number;
  kind: string;
  body: Buffer;
  headers: string;
}

type St<P extends unknown[], R = unknown> = Database.Statement<P, R>;

export interface Statements {
  lastSeq: St<[string], { last_seq: number }>;
  setLast: St<[string, number]>;
  insert: St<[string, number, string, string, number, string, Buffer, string]>;
  exists: St<[string, number], { one: number }>;
  idAt: St<[string, number], { id: string }>;
  trim: St<[string, number]>;
  read: St<[string, number, number, number], MessageRow>;
  first: St<[string, number, number], { seq: number }>;
  conversationsAfter: St<[string, number], { conversation: string; last_seq: number }>;
  ageTrim: St<[string, number, string, number, number]>;
  erase: St<[string]>;
  eraseFrom: St<[string]>;
  dedupeGet: St<[string, string, number], { seq: number; ts: number }>;
  dedupePut: St<[string, string, number, number, number]>;
  dedupeSweep: St<[number]>;
  ageSweep: St<[number]>;
}

export function prepareStatements(db: Database.Database): Statements {
  return {
    lastSeq: db.prepare('SELECT last_seq FROM log_conversations WHERE conversation = ?'),
    setLast: db.prepare(
      'INSERT INTO log_conversations (conversation, last_seq) VALUES (?, ?) ON CONFLICT (conversation) DO UPDATE SET last_seq = excluded.last_seq',
    ),
    insert: db.prepare(
      'INSERT INTO log_messages (conversation, seq, id, sender, ts, kind, body, headers) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    exists: db.prepare('SELECT 1 AS one FROM log_messages WHERE conversation = ? AND seq = ?'),
    idAt: db.prepare('SELECT id FROM log_messages WHERE conversation = ? AND seq = ?'),
    trim: db.prepare('DELETE FROM log_messages WHERE conversation = ? AND seq <= ?'),
    read: db.prepare('SELECT * FROM log_messages WHERE conversation = ? AND seq > ? AND ts >= ? ORDER BY seq LIMIT ?'),
    first: db.prepare('SELECT seq FROM log_messages WHERE conversation = ? AND seq > ? AND ts >= ? ORDER BY seq LIMIT 1'),
    conversationsAfter: db.prepare('SELECT conversation, last_seq FROM log_conversations WHERE conversation > ? ORDER BY conversation LIMIT ?'),
    // The oldest aged rows of one conversation, at most a given number (the next sweep goes on).
    ageTrim: db.prepare(
      'DELETE FROM log_messages WHERE conversation = ? AND ts < ? AND seq <= (SELECT max(seq) FROM (SELECT seq FROM log_messages WHERE conversation = ? AND ts < ? ORDER BY seq LIMIT ?))',
    ),
    erase: db.prepare('DELETE FROM log_messages WHERE conversation = ?'),
    eraseFrom: db.prepare('DELETE FROM log_messages WHERE sender = ?'),
    dedupeGet: db.prepare('SELECT seq, ts FROM log_dedupe WHERE conversation = ? AND key = ? AND expires > ?'),
    dedupePut: db.prepare(
      'INSERT OR REPLACE INTO log_dedupe (conversation, key, seq, ts, expires) VALUES (?, ?, ?, ?, ?)',
    ),
    dedupeSweep: db.prepare('DELETE FROM log_dedupe WHERE expires <= ?'),
    ageSweep: db.prepare('DELETE FROM log_messages WHERE ts < ?'),
  };
}
