/**
 * Conformance, part 4: retention per conversation (`LogOptions.retention`). A policy function
 * gives some conversations an age or count limit and leaves others to the global options; reads
 * and `firstAvailable` hide what is beyond a conversation's policy before any sweep, the sweep
 * removes it from the store itself (checked beside the log: SQLite rows, JetStream messages),
 * the counter never goes back, and `store` never brings a removed seq back.
 */
import { expect } from 'vitest';
import { ErrorCode } from '../../src/errors/mod.js';
import type { LogEntry, RetentionOf } from '../../src/log/mod.js';
import { appendN, expectFails, range, waitFor } from './helpers.js';
import type { LogSuite } from './helpers.js';

const DAY = 86_400_000;
/** A sweep that does not come during a test: what reads hide, the store still holds. */
const NO_SWEEP = { sweepIntervalMs: 3_600_000 };

/** Rooms `room:short-*` keep 3 seqs, `room:day-*` one day; the rest: the global options. */
const policy: RetentionOf = (c) => (c.startsWith('room:short-') ? { maxCount: 3 } : c.startsWith('room:day-') ? { maxAgeMs: DAY } : undefined);

/** Entries of `conversation` as another log assigned them, with timestamps `ageMs` in the past. */
function copies(conversation: string, ages: number[]): LogEntry[] {
  const now = Date.now();
  return ages.map((age, i) => ({ conversation, seq: i + 1, id: `m${i + 1}`, from: 'alice', timestamp: now - age, body: { n: i + 1 }, headers: {} }));
}

export function retentionTests(s: LogSuite): void {
  s.test('retention - a count rule keeps the newest N seqs of matching conversations only', async () => {
    const h = await s.env.open({ retention: policy });
    await appendN(h.log, 'room:short-1', 6);
    await appendN(h.log, 'room:other', 6);
    expect((await h.log.read('room:short-1')).map((e) => e.seq)).toEqual([4, 5, 6]);
    expect((await h.log.read('room:short-1', { after: 1 })).map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(await h.log.firstAvailable('room:short-1')).toBe(4);
    expect(await h.log.last('room:short-1')).toBe(6);
    expect((await h.log.read('room:other')).map((e) => e.seq)).toEqual(range(1, 6));
    expect(await h.log.firstAvailable('room:other')).toBe(1);
    await waitFor('the count sweep to remove seqs 1-3 from the store', async () => (await h.stored('room:short-1')).join() === '4,5,6', 15_000, 100);
    expect(await h.stored('room:other')).toEqual(range(1, 6));
    expect((await h.log.append('room:short-1', { from: 'bob', body: 'next' })).seq).toBe(7);
    expect((await h.log.read('room:short-1')).map((e) => e.seq)).toEqual([5, 6, 7]);
  }, 30_000);

  s.test('retention - an age rule hides old entries from reads before any sweep', async () => {
    const h = await s.env.open({ retention: policy }, NO_SWEEP);
    // Two entries two days old, then a fresh one; the same ages in a conversation without a rule.
    const old = copies('room:day-1', [2 * DAY, 2 * DAY, 0]);
    expect(await h.log.storeMany(old)).toEqual({ stored: 3, skipped: 0, last: 3 });
    await h.log.storeMany(copies('room:other', [2 * DAY, 2 * DAY, 0]));
    expect((await h.log.read('room:day-1')).map((e) => e.seq)).toEqual([3]);
    expect(await h.log.firstAvailable('room:day-1')).toBe(3);
    expect(await h.log.last('room:day-1')).toBe(3);
    expect((await h.log.read('room:other')).map((e) => e.seq)).toEqual([1, 2, 3]);
    // Hidden, not removed yet: the sweep has not run.
    expect(await h.stored('room:day-1')).toEqual([1, 2, 3]);
  });

  s.test('retention - the sweep removes aged entries from the store and the counter continues', async () => {
    const h = await s.env.open({ retention: policy });
    await h.log.storeMany(copies('room:day-2', [3 * DAY, 2 * DAY, 0]));
    await h.log.storeMany(copies('room:day-all', [3 * DAY, 2 * DAY]));
    await h.log.storeMany(copies('room:other', [3 * DAY, 2 * DAY]));
    await waitFor('the age sweep to remove the aged entries', async () => (await h.stored('room:day-2')).join() === '3' && (await h.stored('room:day-all')).length === 0, 15_000, 100);
    expect(await h.stored('room:other')).toEqual([1, 2]);
    expect(await h.log.last('room:day-all')).toBe(2);
    expect(await h.log.firstAvailable('room:day-all')).toBe(3);
    expect(await h.log.read('room:day-all')).toEqual([]);
    expect((await h.log.append('room:day-all', { from: 'bob', body: 'later' })).seq).toBe(3);
    expect((await h.log.read('room:day-2')).map((e) => e.seq)).toEqual([3]);
  }, 30_000);

  s.test('retention - store never brings back a seq its policy removed; a gap past removed seqs is allowed', async () => {
    const h = await s.env.open({ retention: policy });
    const e = copies('room:short-2', [0, 0, 0, 0, 0]);
    expect(await h.log.storeMany(e)).toEqual({ stored: 5, skipped: 0, last: 5 });
    await waitFor('the sweep to remove seqs 1-2', async () => (await h.stored('room:short-2')).join() === '3,4,5', 15_000, 100);
    // A home re-sending what the replica trimmed: refused, not stored again.
    const gone = await expectFails(() => h.log.store(e[0]!), ErrorCode.LogOutOfOrder);
    expect(gone.details).toMatchObject({ last: 5 });
    expect(gone.details.conflict).toBeUndefined();
    const batch = await expectFails(() => h.log.storeMany(e), ErrorCode.LogOutOfOrder);
    expect(batch.details).toMatchObject({ index: 0, stored: 0 });
    expect(await h.stored('room:short-2')).toEqual([3, 4, 5]);
    expect((await h.log.read('room:short-2')).map((x) => x.seq)).toEqual([3, 4, 5]);
    // A replica that missed seqs its home has since removed continues past them (allowGap), as
    // replication does when the home's page starts beyond the replica's last.
    const late = copies('room:short-3', [0, 0, 0, 0, 0, 0]);
    await h.log.store(late[0]!);
    expect(await h.log.storeMany(late.slice(3), { allowGap: (x) => x.seq === 4 })).toEqual({ stored: 3, skipped: 0, last: 6 });
    expect((await h.log.read('room:short-3')).map((x) => x.seq)).toEqual([4, 5, 6]);
    expect(await h.log.firstAvailable('room:short-3')).toBe(4);
  }, 30_000);
}
