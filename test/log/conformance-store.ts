/**
 * Conformance, part 3: `store` and `storeMany`, the replication operations. A source log appends
 * (assigning seqs), a replica log (another store of the same implementation) stores copies of the
 * source's entries: exact copies, next seq only, re-sends harmless, conflicts refused, and the
 * replica can take over (append continues, retries of stored ids are recognised).
 */
import { expect } from 'vitest';
import { ErrorCode } from '../../src/errors/mod.js';
import type { LogEntry, MessageLog } from '../../src/log/mod.js';
import { enc, expectFails, range, waitFor } from './helpers.js';
import type { LogSuite } from './helpers.js';

/** Append a varied history to `log` and return it as read back. */
async function history(log: MessageLog, conversation: string, n = 5): Promise<LogEntry[]> {
  const bodies = [{ text: 'hi', n: [1, 2], nested: { ok: true, none: null } }, enc('raw \u0000 bytes'), 'just a string', null, 42.5];
  for (let i = 0; i < n; i++) {
    await log.append(conversation, {
      ...(i % 2 === 0 ? { id: `src-${i}` } : {}),
      from: i % 3 === 0 ? 'alice' : 'bob',
      body: bodies[i % bodies.length] ?? i,
      ...(i % 2 === 1 ? {} : { headers: { 'x-kind': `k${i}`, 'x-utf8': 'ünï ✓' } }),
    });
  }
  const entries = await log.read(conversation, { limit: 1000 });
  expect(entries.map((e) => e.seq)).toEqual(range(1, n));
  return entries;
}

const at = (entries: LogEntry[], seq: number): LogEntry => {
  const e = entries.find((x) => x.seq === seq);
  if (!e) throw new Error(`no entry ${seq}`);
  return e;
};

export function storeTests(s: LogSuite): void {
  s.test('store with allowGap copies an entry that skipped ahead (a failover\'s first write); without it the gap is refused', async () => {
    const source = (await s.env.open()).log;
    const replica = (await s.env.open()).log;
    const entries = await history(source, 'gap', 2);
    await source.append('gap', { id: 'epoch2', from: 'carol', body: 'e2', headers: { 'x-epoch': '2' }, minSeq: 50 });
    const all = await source.read('gap', { limit: 100 });
    expect(all.map((e) => e.seq)).toEqual([1, 2, 50]);
    await replica.storeMany(entries);
    await expectFails(() => replica.store(all[2]!), ErrorCode.LogOutOfOrder);
    expect(await replica.store(all[2]!, { allowGap: (e) => e.headers['x-epoch'] !== undefined })).toMatchObject({ stored: true, last: 50 });
    expect(await replica.read('gap', { limit: 100 })).toEqual(all);
    expect((await replica.append('gap', { from: 'carol', body: 'next' })).seq).toBe(51);
  });

  s.test('append with minSeq skips the sequence ahead (a failover\'s first write): a hole below, dense after, no effect when already past', async () => {
    const log = (await s.env.open()).log;
    await history(log, 'skip', 3);
    const jumped = await log.append('skip', { from: 'carol', body: 'epoch 2', minSeq: 1004 });
    expect(jumped.seq).toBe(1004);
    expect((await log.append('skip', { from: 'carol', body: 'next', minSeq: 10 })).seq).toBe(1005);
    expect(await log.last('skip')).toBe(1005);
    expect((await log.read('skip', { after: 0, limit: 100 })).map((e) => e.seq)).toEqual([1, 2, 3, 1004, 1005]);
    expect((await log.read('skip', { after: 3, limit: 100 })).map((e) => e.seq)).toEqual([1004, 1005]);
    await expectFails(() => log.append('skip', { from: 'carol', body: 'bad', minSeq: -1 }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.append('skip', { from: 'carol', body: 'bad', minSeq: 1.5 }), ErrorCode.LogInvalidArgument);
    // A header named __proto__ would set the headers object's prototype instead of being stored.
    await expectFails(() => log.append('skip', { from: 'carol', body: 'bad', headers: JSON.parse('{"__proto__":"x"}') as Record<string, string> }), ErrorCode.LogInvalidArgument);
    expect(await log.last('skip')).toBe(1005);
  });

  s.test('store - copies round-trip exactly; the replica then appends at last + 1 and dedupes stored ids', async () => {
    const source = (await s.env.open()).log;
    const replica = (await s.env.open()).log;
    const entries = await history(source, 'conv');
    expect(entries[1]?.body).toBeInstanceOf(Uint8Array);
    for (const e of entries) expect(await replica.store(e)).toEqual({ stored: true, last: e.seq });
    expect(await replica.read('conv')).toStrictEqual(entries);
    expect(await replica.last('conv')).toBe(5);
    expect(await replica.firstAvailable('conv')).toBe(1);
    // Failover: the replica assigns from where the copy ends.
    const next = await replica.append('conv', { id: 'after-failover', from: 'carol', body: 'next' });
    expect(next).toMatchObject({ seq: 6, duplicate: false });
    expect(await replica.last('conv')).toBe(6);
    // A client retry of a send the old home acked gets its original answer.
    const original = at(entries, 3);
    expect(await replica.append('conv', { id: original.id, from: original.from, body: 'retried body' })).toEqual({
      conversation: 'conv', seq: 3, id: original.id, timestamp: original.timestamp, duplicate: true,
    });
    // Ids the source generated dedupe too.
    const generated = at(entries, 2);
    expect(await replica.append('conv', { id: generated.id, from: 'bob', body: 'x' })).toMatchObject({ seq: 2, duplicate: true });
    expect((await replica.read('conv', { after: 5 })).map((e) => [e.seq, e.body])).toEqual([[6, 'next']]);
    // Other conversations are untouched.
    expect(await replica.last('other')).toBe(0);
  });

  s.test('store - a re-sent entry is a no-op; a gap or another id at that seq is LOG_OUT_OF_ORDER', async () => {
    const source = (await s.env.open()).log;
    const r = await s.env.open();
    const replica = r.log;
    const e = await history(source, 'c', 4);
    const [e1, e2, e3, e4] = [at(e, 1), at(e, 2), at(e, 3), at(e, 4)];
    await replica.store(e1);
    await replica.store(e2);
    expect(await replica.store(e1)).toEqual({ stored: false, last: 2 });
    expect(await replica.store(e2)).toEqual({ stored: false, last: 2 });
    // From another handle on the replica, too.
    expect(await (await r.peer()).store(e2)).toEqual({ stored: false, last: 2 });
    const gap = await expectFails(() => replica.store(e4), ErrorCode.LogOutOfOrder);
    expect(gap.details).toMatchObject({ last: 2 });
    expect(gap.details.conflict).toBeUndefined();
    const conflict = await expectFails(() => replica.store({ ...e2, id: 'someone-else' }), ErrorCode.LogOutOfOrder);
    expect(conflict.details).toMatchObject({ last: 2, conflict: true });
    const conflictOld = await expectFails(() => replica.store({ ...e1, id: 'someone-else' }), ErrorCode.LogOutOfOrder);
    expect(conflictOld.details).toMatchObject({ last: 2, conflict: true });
    expect(await replica.last('c')).toBe(2);
    expect(await replica.read('c')).toStrictEqual([e1, e2]);
    expect(await replica.store(e3)).toEqual({ stored: true, last: 3 });
    // The replica took over and appended seq 4 itself: the old home's seq 4 is a conflict.
    await replica.append('c', { id: 'local-4', from: 'carol', body: 'local' });
    const late = await expectFails(() => replica.store(e4), ErrorCode.LogOutOfOrder);
    expect(late.details).toMatchObject({ last: 4, conflict: true });
    expect((await replica.read('c')).map((x) => x.id)).toEqual([e1.id, e2.id, e3.id, 'local-4']);
    // Beyond the end: a gap, whatever the id.
    await expectFails(() => replica.store({ ...e4, seq: 9 }), ErrorCode.LogOutOfOrder);
    expect(await replica.last('c')).toBe(4);
  });

  s.test('store - seqs no longer stored (retention, erasure) are refused, never brought back', async () => {
    const source = (await s.env.open()).log;
    const replica = (await s.env.open({ maxPerConversation: 2 })).log;
    const e = await history(source, 'r', 3);
    for (const x of e) await replica.store(x);
    expect((await replica.read('r')).map((x) => x.seq)).toEqual([2, 3]);
    expect(await replica.firstAvailable('r')).toBe(2);
    // seq 1 fell out of count retention: a re-send of it cannot be told from a stale writer.
    expect((await expectFails(() => replica.store(at(e, 1)), ErrorCode.LogOutOfOrder)).details).toMatchObject({ last: 3 });
    expect(await replica.store(at(e, 3))).toEqual({ stored: false, last: 3 });
    expect(await replica.erase('r')).toBe(2);
    const gone = await expectFails(() => replica.store(at(e, 3)), ErrorCode.LogOutOfOrder);
    expect(gone.details).toMatchObject({ last: 3 });
    expect(gone.details.conflict).toBeUndefined();
    expect(await replica.read('r')).toEqual([]);
    expect(await replica.last('r')).toBe(3);
    expect(await replica.firstAvailable('r')).toBe(4);
    // A retry of an erased stored entry learns it is gone, as for an appended one.
    await expectFails(() => replica.append('r', { id: at(e, 3).id, from: 'alice', body: 'again' }), ErrorCode.LogDuplicateGone);
    expect(await replica.store({ ...at(e, 3), seq: 4, id: 'next' })).toEqual({ stored: true, last: 4 });
  });

  s.test('store - the counter outlives stored entries removed by age', async () => {
    const source = (await s.env.open()).log;
    const replica = (await s.env.open({ maxAgeMs: 1500 })).log;
    const a = await history(source, 'one', 2);
    const b = await history(source, 'many', 3);
    for (const x of a) await replica.store(x);
    expect(await replica.storeMany(b)).toEqual({ stored: 3, skipped: 0, last: 3 });
    await waitFor('stored entries to age out', async () => (await replica.read('one')).length === 0 && (await replica.read('many')).length === 0, 15_000, 200);
    expect(await replica.last('one')).toBe(2);
    expect(await replica.last('many')).toBe(3);
    expect(await replica.firstAvailable('many')).toBe(4);
    await expectFails(() => replica.store(at(a, 2)), ErrorCode.LogOutOfOrder);
    expect((await replica.append('one', { from: 'alice', body: 'later' })).seq).toBe(3);
    expect((await replica.append('many', { from: 'alice', body: 'later' })).seq).toBe(4);
  }, 30_000);

  s.test('store - an id the source reused after its dedupe window is stored at both seqs', async () => {
    const source = (await s.env.open({ dedupeWindowMs: 1000 })).log;
    const replica = (await s.env.open()).log;
    await source.append('w', { id: 'k', from: 'alice', body: 1 });
    await waitFor('the dedupe window to pass', async () => !(await source.append('w', { id: 'k', from: 'alice', body: 2 })).duplicate, 10_000, 200);
    const e = await source.read('w');
    expect(e.map((x) => [x.seq, x.id])).toEqual([[1, 'k'], [2, 'k']]);
    expect(await replica.store(at(e, 1))).toEqual({ stored: true, last: 1 });
    expect(await replica.store(at(e, 2))).toEqual({ stored: true, last: 2 });
    expect(await replica.store(at(e, 2))).toEqual({ stored: false, last: 2 });
    expect(await replica.read('w')).toStrictEqual(e);
    expect((await replica.append('w', { from: 'alice', body: 3 })).seq).toBe(3);
  });

  s.test('store - input is checked like append, nothing is stored', async () => {
    const replica = (await s.env.open({ maxBodyBytes: 1024 })).log;
    const ok: LogEntry = { conversation: 'c', seq: 1, id: 'm1', from: 'alice', timestamp: Date.now(), body: { a: 1 }, headers: {} };
    const bad = ErrorCode.LogInvalidArgument;
    await expectFails(() => replica.store({ ...ok, conversation: '' }), ErrorCode.LogInvalidConversation);
    await expectFails(() => replica.store({ ...ok, conversation: 'x'.repeat(257) }), ErrorCode.LogInvalidConversation);
    for (const seq of [0, -1, 1.5, Number.NaN]) await expectFails(() => replica.store({ ...ok, seq }), bad);
    for (const timestamp of [-1, 1.5, Number.NaN]) await expectFails(() => replica.store({ ...ok, timestamp }), bad);
    await expectFails(() => replica.store({ ...ok, id: '' }), bad);
    await expectFails(() => replica.store({ ...ok, id: 'a\nb' }), bad);
    await expectFails(() => replica.store({ ...ok, id: undefined as unknown as string }), bad);
    await expectFails(() => replica.store({ ...ok, from: '' }), bad);
    await expectFails(() => replica.store({ ...ok, headers: { 'bad name': 'v' } }), bad);
    await expectFails(() => replica.store({ ...ok, headers: { ok: 'two\nlines' } }), bad);
    await expectFails(() => replica.store({ ...ok, body: new Uint8Array(1025) }), ErrorCode.LogBodyTooLarge);
    await expectFails(() => replica.store(null as unknown as LogEntry), bad);
    await expectFails(() => replica.storeMany('nope' as unknown as LogEntry[]), bad);
    expect(await replica.last('c')).toBe(0);
    expect(await replica.store({ ...ok, body: new Uint8Array(1024) })).toEqual({ stored: true, last: 1 });
  });

  s.test('storeMany - stores in order, skips re-sent entries, stops at the first failure saying where', async () => {
    const source = (await s.env.open()).log;
    const replica = (await s.env.open()).log;
    const e = await history(source, 'b', 6);
    const [e1, e2, e3, e4, e5, e6] = [1, 2, 3, 4, 5, 6].map((i) => at(e, i)) as [LogEntry, LogEntry, LogEntry, LogEntry, LogEntry, LogEntry];
    expect(await replica.storeMany([])).toEqual({ stored: 0, skipped: 0, last: 0 });
    expect(await replica.storeMany([e1, e2])).toEqual({ stored: 2, skipped: 0, last: 2 });
    // Re-sent overlap, then a gap at index 3: e3 is kept, the rest not tried.
    const gap = await expectFails(() => replica.storeMany([e1, e2, e3, e5, e4]), ErrorCode.LogOutOfOrder);
    expect(gap.details).toMatchObject({ index: 3, stored: 1, last: 3 });
    expect(await replica.last('b')).toBe(3);
    // An invalid entry stops the batch the same way.
    const invalid = await expectFails(() => replica.storeMany([e4, { ...e5, from: '' }, e6]), ErrorCode.LogInvalidArgument);
    expect(invalid.details).toMatchObject({ index: 1, stored: 1 });
    expect(await replica.last('b')).toBe(4);
    const conflict = await expectFails(() => replica.storeMany([{ ...e4, id: 'other' }]), ErrorCode.LogOutOfOrder);
    expect(conflict.details).toMatchObject({ index: 0, stored: 0, last: 4, conflict: true });
    expect(await replica.storeMany([e3, e4, e5, e6])).toEqual({ stored: 2, skipped: 2, last: 6 });
    expect(await replica.read('b')).toStrictEqual(e);
    expect(await replica.append('b', { id: 'src-4', from: 'x', body: 'retry' })).toMatchObject({ seq: 5, duplicate: true });
    // Several conversations in one batch; `last` is the final entry's conversation's.
    const other = await history(source, 'b2', 2);
    expect(await replica.storeMany([...other, { ...e6, conversation: 'b3', seq: 1 }])).toEqual({ stored: 3, skipped: 0, last: 1 });
    expect(await replica.read('b2')).toStrictEqual(other);
    expect(await replica.last('b3')).toBe(1);
  });

  s.test('storeMany - concurrent re-sends of one batch from several handles store each entry once', async () => {
    const source = (await s.env.open()).log;
    const h = await s.env.open();
    const e = await history(source, 'race', 8);
    const handles = [h.log, await h.peer(), await h.peer()];
    const results = await Promise.all(handles.map((log) => log.storeMany(e)));
    expect(results.reduce((n, r) => n + r.stored, 0)).toBe(8);
    for (const r of results) expect(r.stored + r.skipped).toBe(8);
    expect(await h.log.read('race')).toStrictEqual(e);
    expect(await h.log.last('race')).toBe(8);
    // Single stores racing for the same entry: one stores it.
    const next = { ...at(e, 8), seq: 9, id: 'nine' };
    const singles = await Promise.all(handles.map((log) => log.store(next)));
    expect(singles.filter((r) => r.stored)).toHaveLength(1);
    expect(singles.every((r) => r.last >= 9)).toBe(true);
    expect((await h.log.append('race', { from: 'alice', body: 'ten' })).seq).toBe(10);
  }, 60_000);
}
