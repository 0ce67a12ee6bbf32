/**
 * The message log conformance suite against `SqliteMessageLog`: real SQLite files in a temp dir,
 * one file per store as one region would have. "Restart" closes every handle on the file and
 * opens it again; peers are separate handles (connections) on the same file.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/mod.js';
import { openSqliteLog } from '../../src/log/mod.js';
import type { LogOptions, MessageLog } from '../../src/log/mod.js';
import { runLogConformance } from './conformance.js';
import type { LogEnv, LogFactory, LogHandle } from './conformance.js';
import { expectFails } from './helpers.js';

const factory: LogFactory = {
  name: 'embedded',
  async create(): Promise<LogEnv> {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-log-'));
    const open = new Set<MessageLog>();
    let n = 0;
    const handle = (path: string, opts: LogOptions, sweepIntervalMs = 100): MessageLog => {
      const log = openSqliteLog({ ...opts, path, sweepIntervalMs });
      open.add(log);
      return log;
    };
    return {
      open(opts = {}, tuning = {}): Promise<LogHandle> {
        const path = join(dir, `region-${++n}`, 'log.db');
        const mine: MessageLog[] = [handle(path, opts, tuning.sweepIntervalMs)];
        const first = mine[0];
        if (!first) throw new Error('no handle');
        return Promise.resolve({
          log: first,
          peer: () => {
            const log = handle(path, opts);
            mine.push(log);
            return Promise.resolve(log);
          },
          restart: async () => {
            await Promise.all(mine.splice(0).map((l) => l.close()));
            const log = handle(path, opts);
            mine.push(log);
            return log;
          },
          stored: (conversation) => {
            // The file itself, through a connection of its own: rows deleted are gone from it.
            const db = new Database(path, { readonly: true });
            try {
              return Promise.resolve(db.prepare('SELECT seq FROM log_messages WHERE conversation = ? ORDER BY seq').all(conversation).map((r) => (r as { seq: number }).seq));
            } finally {
              db.close();
            }
          },
        });
      },
      async close() {
        await Promise.all([...open].map((l) => l.close()));
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

runLogConformance(factory);

describe('embedded message log', () => {
  it('stores in WAL mode in the file it was given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-log-'));
    try {
      const path = join(dir, 'nested', 'eu-west.db');
      const log = openSqliteLog({ path });
      await log.append('c', { from: 'a', body: 1 });
      await log.close();
      const db = new Database(path, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT count(*) AS n FROM log_messages').get()).toEqual({ n: 1 });
      db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses invalid options with typed errors', () => {
    for (const bad of [{ maxAgeMs: -1 }, { dedupeWindowMs: 0 }, { maxPerConversation: 1.5 }, { maxBodyBytes: 0 }]) {
      let code: unknown;
      try {
        openSqliteLog({ path: ':memory:', ...bad });
      } catch (err) {
        code = (err as { code?: unknown }).code;
      }
      expect(code, JSON.stringify(bad)).toBe(ErrorCode.LogInvalidArgument);
    }
  });

  it('group commit: the writes of one turn share one commit, each answered on its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-log-'));
    try {
      const path = join(dir, 'group.db');
      // The WAL grows by one frame per page written per commit (below the auto-checkpoint size),
      // so its size tells one commit of 200 writes from 200 commits.
      const walFrames = (): number => statSync(`${path}-wal`).size;
      const log = openSqliteLog({ path });
      await log.append('warm', { from: 'a', body: 0 });
      const before = walFrames();
      for (let i = 0; i < 20; i++) await log.append('one-by-one', { from: 'a', body: i });
      const oneByOne = walFrames() - before;
      // 200 appends over 10 conversations in one turn, with a refused store and a read among them.
      const writes = Array.from({ length: 200 }, (_, i) => log.append(`c${i % 10}`, { from: 'a', body: i, id: `m${i}` }));
      const refused = log.store({ conversation: 'c0', seq: 99, id: 'x', from: 'a', timestamp: Date.now(), body: 1, headers: {} });
      const seen = log.last('c3');
      const results = await Promise.all(writes);
      const grouped = walFrames() - before - oneByOne;
      expect(grouped).toBeLessThan(oneByOne);
      expect(await seen).toBe(20); // the read was called after the 200 appends: it sees them
      await expect(refused).rejects.toMatchObject({ code: ErrorCode.LogOutOfOrder });
      for (let c = 0; c < 10; c++) {
        const seqs = results.filter((r) => r.conversation === `c${c}`).map((r) => r.seq);
        expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1)); // dense, in call order
      }
      // Writes still queued when the log closes are committed, not dropped.
      const late = log.append('late', { from: 'a', body: 1 });
      await log.close();
      expect((await late).seq).toBe(1);
      const again = openSqliteLog({ path });
      expect(await again.last('late')).toBe(1);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('works in memory, for tests of layers above', async () => {
    const log = openSqliteLog({ path: ':memory:' });
    expect((await log.append('c', { from: 'a', body: 'x' })).seq).toBe(1);
    await log.close();
    await expectFails(() => log.read('c'), ErrorCode.LogClosed);
  });
});
