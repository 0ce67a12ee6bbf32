/**
 * The gated log (src/erasure/gated-log.ts) over a real SQLite log: a copy of an erased subject's
 * entry, sent by a home that has not erased yet, is stored (the replica's seqs stay dense, as
 * the log's store contract needs) and erased again before any read sees it; reads wait for the
 * region to be up to date with erasures and refuse while it is not.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GatedLog } from '../../src/erasure/gated-log.js';
import { eraseFromLog } from '../../src/erasure/apply.js';
import { ErasedSubjects } from '../../src/erasure/erased.js';
import type { LogEntry } from '../../src/log/mod.js';
import { ErrorCode, MeridianError } from '../../src/errors/mod.js';
import { openSqliteLog } from '../../src/log/mod.js';
import type { SqliteMessageLog } from '../../src/log/mod.js';

const logs: SqliteMessageLog[] = [];
const open = (): SqliteMessageLog => {
  const l = openSqliteLog({ path: ':memory:' });
  logs.push(l);
  return l;
};
afterEach(async () => {
  await Promise.all(logs.splice(0).map((l) => l.close()));
});

describe('gated log', () => {
  it("a copy of an erased user's entry is stored, then erased before any read; others' copies stay", async () => {
    const home = open();
    const inner = open();
    let ready = true;
    const replica = new GatedLog(inner, {
      ready: () => (ready ? Promise.resolve() : Promise.reject(new MeridianError(ErrorCode.LogUnavailable, 'not yet'))),
      erasedSubjectOf: (e) => (e.from === 'gone' ? { user: 'gone' } : undefined),
      eraseAgain: async (s) => void (await eraseFromLog(inner, s)),
    });
    await home.append('dm:gone:kept', { from: 'gone', body: 'secret-1' });
    await home.append('dm:gone:kept', { from: 'kept', body: 'reply' });
    await home.append('dm:gone:kept', { from: 'gone', body: 'secret-2' });
    const [a, b, c] = await home.read('dm:gone:kept');
    await replica.store(a!);
    expect(await replica.storeMany([b!, c!])).toMatchObject({ stored: 2, last: 3 });
    expect((await replica.read('dm:gone:kept')).map((e) => e.body)).toEqual(['reply']);
    expect(await replica.last('dm:gone:kept')).toBe(3);
    // A re-sent copy of an erased entry is not brought back (the log refuses it below its last).
    await expect(replica.store(c!)).rejects.toMatchObject({ code: ErrorCode.LogOutOfOrder });
    expect((await replica.read('dm:gone:kept')).map((e) => e.body)).toEqual(['reply']);
    ready = false;
    await expect(replica.read('dm:gone:kept')).rejects.toMatchObject({ code: ErrorCode.LogUnavailable });
  });
});

describe('erased subjects', () => {
  const entry = (from: string, conversation: string, timestamp: number): LogEntry => ({ conversation, seq: 1, id: 'x', from, timestamp, body: null, headers: {} });

  it('a copy must not stay while its erasure is incomplete, nor when it was sent before the request', () => {
    const e = new ErasedSubjects();
    e.remember({ id: 'er_1', subject: { user: 'gone' }, requestedAt: 1000, requestedIn: 'us-east' });
    e.remember({ id: 'er_2', subject: { conversation: 'room:r' }, requestedAt: 2000, requestedIn: 'eu-west' });
    expect(e.subjectOf(entry('gone', 'dm:a:gone', 5000))).toEqual({ user: 'gone' });
    expect(e.subjectOf(entry('other', 'room:r', 5000))).toEqual({ conversation: 'room:r' });
    expect(e.subjectOf(entry('other', 'dm:a:other', 500))).toBeUndefined();
    expect(e.pending().sort()).toEqual(['er_1', 'er_2']);
    e.completed('er_1');
    e.completed('er_2');
    // Complete: only what was sent before the request goes; what the subject sends later stays.
    expect(e.subjectOf(entry('gone', 'dm:a:gone', 999))).toEqual({ user: 'gone' });
    expect(e.subjectOf(entry('gone', 'dm:a:gone', 5000))).toBeUndefined();
    expect(e.subjectOf(entry('x', 'room:r', 2001))).toBeUndefined();
  });
});
