/**
 * Conformance, part 1: sequence numbers, order, concurrency, idempotent retries, history reads.
 */
import { expect } from 'vitest';
import { ErrorCode } from '../../src/errors/mod.js';
import { appendN, enc, expectFails, range, waitFor } from './helpers.js';
import type { LogSuite } from './helpers.js';

export function basicTests(s: LogSuite): void {
  s.test('append - seqs start at 1 and are dense, reads return entries as appended', async () => {
    const { log } = await s.env.open();
    expect(await log.last('c1')).toBe(0);
    expect(await log.firstAvailable('c1')).toBe(1);
    expect(await log.read('c1')).toEqual([]);
    const before = Date.now();
    const a = await log.append('c1', { id: 'm-1', from: 'alice', body: { text: 'hi', n: [1, 2] }, headers: { 'x-kind': 'text' } });
    const b = await log.append('c1', { from: 'bob', body: enc('raw bytes') });
    const c = await log.append('c1', { from: 'alice', body: 'just a string' });
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
    expect(a).toMatchObject({ conversation: 'c1', id: 'm-1', duplicate: false });
    expect(b.id).toMatch(/.+/);
    expect(b.id).not.toBe(c.id);
    expect(a.timestamp).toBeGreaterThanOrEqual(before - 1000);
    const entries = await log.read('c1');
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0]).toMatchObject({ conversation: 'c1', seq: 1, id: 'm-1', from: 'alice', body: { text: 'hi', n: [1, 2] }, headers: { 'x-kind': 'text' }, timestamp: a.timestamp });
    expect(entries[1]?.body).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(entries[1]?.body as Uint8Array)).toBe('raw bytes');
    expect(entries[1]?.id).toBe(b.id);
    expect(entries[2]?.body).toBe('just a string');
    expect(await log.last('c1')).toBe(3);
    expect(await log.firstAvailable('c1')).toBe(1);
  });

  s.test('append - conversation ids with dots, wildcards and spaces stay separate', async () => {
    const { log } = await s.env.open();
    const ids = ['room.a', 'room.*', 'room >', 'dm:alice|bob', 'ünï'];
    for (const id of ids) await log.append(id, { from: 'u', body: id });
    for (const id of ids) {
      const entries = await log.read(id);
      expect(entries.map((e) => [e.seq, e.body])).toEqual([[1, id]]);
    }
  });

  s.test('append - concurrent appends from several callers get distinct dense seqs', async () => {
    const h = await s.env.open();
    const callers = [h.log, await h.peer(), await h.peer()];
    const perCaller = 8;
    const results = await Promise.all(
      callers.flatMap((log, c) => range(1, perCaller).map((i) => log.append('busy', { id: `c${c}-${i}`, from: `caller${c}`, body: { c, i } }))),
    );
    const seqs = results.map((r) => r.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(range(1, callers.length * perCaller));
    expect(results.every((r) => !r.duplicate)).toBe(true);
    const entries = await h.log.read('busy', { limit: 1000 });
    expect(entries.map((e) => e.seq)).toEqual(range(1, callers.length * perCaller));
    // Each entry is the one its append was told about.
    const byId = new Map(results.map((r) => [r.id, r.seq]));
    for (const e of entries) expect(byId.get(e.id)).toBe(e.seq);
  }, 60_000);

  s.test('read - a long history among other conversations reads whole, from any point, in pages of any size', async () => {
    const { log } = await s.env.open();
    // Past 32 entries (where the NATS log takes a consumer for the rest of a read).
    for (let i = 1; i <= 60; i++) {
      await log.append('long', { from: 'u', body: i });
      if (i % 3 === 0) await log.append('other', { from: 'u', body: -i });
    }
    expect((await log.read('long', { limit: 1000 })).map((e) => e.body)).toEqual(range(1, 60));
    expect((await log.read('long', { after: 10, limit: 45 })).map((e) => e.seq)).toEqual(range(11, 55));
    expect((await log.read('long', { after: 20, limit: 1000 })).map((e) => e.seq)).toEqual(range(21, 60));
    expect((await log.read('long', { after: 57, limit: 1000 })).map((e) => e.seq)).toEqual(range(58, 60));
    expect((await log.read('other', { limit: 1000 })).map((e) => e.body)).toEqual(range(1, 20).map((i) => -3 * i));
  }, 60_000);

  s.test('append - independent conversations each count from 1', async () => {
    const { log } = await s.env.open();
    const order: Array<[string, number]> = [];
    for (let i = 0; i < 4; i++) {
      for (const c of ['a', 'b', 'c']) order.push([c, (await log.append(c, { from: 'u', body: i })).seq]);
    }
    for (const c of ['a', 'b', 'c']) {
      expect(order.filter(([x]) => x === c).map(([, seq]) => seq)).toEqual([1, 2, 3, 4]);
      expect(await log.last(c)).toBe(4);
    }
  });

  s.test('dedupe - a retry with the same id returns the original and stores nothing', async () => {
    const h = await s.env.open();
    const first = await h.log.append('d', { id: 'send-1', from: 'alice', body: 'original' });
    await h.log.append('d', { from: 'bob', body: 'between' });
    const other = await h.peer();
    const retry = await other.append('d', { id: 'send-1', from: 'alice', body: 'changed on retry' });
    expect(retry).toEqual({ ...first, duplicate: true });
    const entries = await h.log.read('d');
    expect(entries.map((e) => e.body)).toEqual(['original', 'between']);
    expect((await h.log.append('d', { from: 'alice', body: 'next' })).seq).toBe(3);
    // Ids are scoped to a conversation.
    expect(await h.log.append('d2', { id: 'send-1', from: 'alice', body: 'x' })).toMatchObject({ seq: 1, duplicate: false });
  });

  s.test('dedupe - concurrent retries of one send store it once', async () => {
    const h = await s.env.open();
    const logs = [h.log, await h.peer(), h.log, await h.peer(), h.log];
    const results = await Promise.all(logs.map((log, i) => log.append('race', { id: 'same', from: 'alice', body: { attempt: i } })));
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.seq))).toEqual(new Set([1]));
    expect(await h.log.read('race')).toHaveLength(1);
    expect(await h.log.last('race')).toBe(1);
  }, 60_000);

  s.test('dedupe - after the window a reused id is a new message', async () => {
    const { log } = await s.env.open({ dedupeWindowMs: 1000 });
    const first = await log.append('w', { id: 'k', from: 'alice', body: 1 });
    expect((await log.append('w', { id: 'k', from: 'alice', body: 1 })).duplicate).toBe(true);
    // The window ends within ~1 s; the server forgets ids on its own timer, so poll.
    let again = first;
    await waitFor('the dedupe window to pass', async () => {
      again = await log.append('w', { id: 'k', from: 'alice', body: 2 });
      return !again.duplicate;
    }, 10_000, 200);
    expect(again.seq).toBe(2);
    expect((await log.read('w')).map((e) => e.body)).toEqual([1, 2]);
  });

  s.test('read - after and limit select a window in seq order', async () => {
    const { log } = await s.env.open();
    await appendN(log, 'h', 10);
    await appendN(log, 'other', 3);
    const seqs = async (after: number, limit?: number): Promise<number[]> => (await log.read('h', limit === undefined ? { after } : { after, limit })).map((e) => e.seq);
    expect(await seqs(0)).toEqual(range(1, 10));
    expect(await seqs(3, 4)).toEqual([4, 5, 6, 7]);
    expect(await seqs(7, 100)).toEqual([8, 9, 10]);
    expect(await seqs(9)).toEqual([10]);
    expect(await seqs(10)).toEqual([]);
    expect(await seqs(50)).toEqual([]);
    expect(await seqs(0, 1)).toEqual([1]);
    await expectFails(() => log.read('h', { after: -1 }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.read('h', { after: 1.5 }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.read('h', { limit: 0 }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.read('h', { limit: 1001 }), ErrorCode.LogInvalidArgument);
  });
}
