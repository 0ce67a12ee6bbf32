/**
 * Conformance, part 2: retention (count, age), erasure (conversation, sender), persistence
 * across a restart of the store, bad input and close.
 */
import { expect } from 'vitest';
import { ErrorCode } from '../../src/errors/mod.js';
import { appendN, expectFails, range, waitFor } from './helpers.js';
import type { LogSuite } from './helpers.js';

export function lifecycleTests(s: LogSuite): void {
  s.test('retention - count keeps the newest N per conversation and moves firstAvailable', async () => {
    const { log } = await s.env.open({ maxPerConversation: 3 });
    await log.append('r', { id: 'first', from: 'alice', body: 0 });
    await appendN(log, 'r', 4);
    await appendN(log, 'small', 2);
    expect((await log.read('r')).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(await log.firstAvailable('r')).toBe(3);
    expect(await log.last('r')).toBe(5);
    expect((await log.read('small')).map((e) => e.seq)).toEqual([1, 2]);
    // A reader at seq 1 learns that seq 2 is gone: firstAvailable > after + 1 (recovered: false).
    expect((await log.read('r', { after: 1 })).map((e) => e.seq)).toEqual([3, 4, 5]);
    // A retry whose original fell out of retention stores nothing.
    await expectFails(() => log.append('r', { id: 'first', from: 'alice', body: 0 }), ErrorCode.LogDuplicateGone);
    expect(await log.last('r')).toBe(5);
  });

  s.test('retention - age removes old entries, the seq counter continues', async () => {
    const { log } = await s.env.open({ maxAgeMs: 1500 });
    // Only the append results are checked before expiry: a read could come too late on a busy
    // machine, and a test must not depend on speed.
    expect(await appendN(log, 'old', 2)).toEqual([1, 2]);
    await waitFor('entries to age out', async () => (await log.read('old')).length === 0, 15_000, 200);
    expect(await log.last('old')).toBe(2);
    expect(await log.firstAvailable('old')).toBe(3);
    expect((await log.append('old', { from: 'alice', body: 'later' })).seq).toBe(3);
    expect(await log.last('old')).toBe(3);
  }, 30_000);

  s.test('erase - a conversation loses every entry, not its counter', async () => {
    const h = await s.env.open();
    await h.log.append('gone', { id: 'g1', from: 'alice', body: 'secret' });
    await appendN(h.log, 'gone', 2, 'bob');
    await appendN(h.log, 'kept', 2);
    expect(await h.log.erase('gone')).toBe(3);
    expect(await h.log.read('gone')).toEqual([]);
    expect(await h.log.last('gone')).toBe(3);
    expect(await h.log.firstAvailable('gone')).toBe(4);
    expect((await h.log.read('kept')).map((e) => e.seq)).toEqual([1, 2]);
    // A late retry of an erased message must not bring it back.
    await expectFails(() => h.log.append('gone', { id: 'g1', from: 'alice', body: 'secret' }), ErrorCode.LogDuplicateGone);
    const peer = await h.peer();
    expect((await peer.append('gone', { from: 'alice', body: 'after' })).seq).toBe(4);
    expect(await h.log.erase('never-used')).toBe(0);
  });

  s.test('erase - by sender removes their entries in every conversation, leaving holes', async () => {
    const { log } = await s.env.open();
    await log.append('a', { from: 'alice', body: 1 });
    await log.append('a', { from: 'bob', body: 2 });
    await log.append('a', { from: 'alice', body: 3 });
    await log.append('b', { from: 'alice', body: 4 });
    await log.append('c', { from: 'carol', body: 5 });
    expect(await log.eraseFrom('alice')).toBe(3);
    expect((await log.read('a')).map((e) => [e.seq, e.from])).toEqual([[2, 'bob']]);
    expect(await log.read('b')).toEqual([]);
    expect((await log.read('c')).map((e) => e.seq)).toEqual([1]);
    // The erased last entries keep their numbers: nothing is handed out twice.
    expect(await log.last('a')).toBe(3);
    expect((await log.append('a', { from: 'bob', body: 6 })).seq).toBe(4);
    expect((await log.append('b', { from: 'bob', body: 7 })).seq).toBe(2);
    expect(await log.eraseFrom('nobody')).toBe(0);
  });

  s.test('persistence - entries, counters and dedupe survive a restart of the store', async () => {
    const h = await s.env.open();
    await h.log.append('p', { id: 'p1', from: 'alice', body: { text: 'durable' } });
    await appendN(h.log, 'p', 2, 'bob');
    await h.log.append('q', { from: 'alice', body: 'q1' });
    await h.log.erase('q');
    const log = await h.restart();
    const entries = await log.read('p');
    expect(entries.map((e) => [e.seq, e.from])).toEqual([[1, 'alice'], [2, 'bob'], [3, 'bob']]);
    expect(entries[0]?.body).toEqual({ text: 'durable' });
    expect(await log.last('p')).toBe(3);
    expect(await log.last('q')).toBe(1);
    expect(await log.append('p', { id: 'p1', from: 'alice', body: 'retry' })).toMatchObject({ seq: 1, duplicate: true });
    expect((await log.append('p', { from: 'alice', body: 'new' })).seq).toBe(4);
    expect((await log.append('q', { from: 'alice', body: 'q2' })).seq).toBe(2);
  }, 60_000);

  s.test('input - bad conversation ids, bodies, senders and headers are refused with typed errors', async () => {
    const { log } = await s.env.open({ maxBodyBytes: 1024 });
    const bad = ErrorCode.LogInvalidConversation;
    await expectFails(() => log.append('', { from: 'a', body: 1 }), bad);
    await expectFails(() => log.append('x'.repeat(257), { from: 'a', body: 1 }), bad);
    await expectFails(() => log.read(''), bad);
    await expectFails(() => log.last(''), bad);
    await expectFails(() => log.firstAvailable(''), bad);
    await expectFails(() => log.erase(''), bad);
    await expectFails(() => log.append('c', { from: 'a', body: new Uint8Array(1025) }), ErrorCode.LogBodyTooLarge);
    await expectFails(() => log.append('c', { from: 'a', body: 'x'.repeat(1100) }), ErrorCode.LogBodyTooLarge);
    await expectFails(() => log.append('c', { from: '', body: 1 }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.append('c', { id: '', from: 'a', body: 1 }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.append('c', { id: 'a\nb', from: 'a', body: 1 }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.append('c', { from: 'a', body: 1, headers: { 'bad name': 'v' } }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.append('c', { from: 'a', body: 1, headers: { ok: 'two\nlines' } }), ErrorCode.LogInvalidArgument);
    await expectFails(() => log.eraseFrom(''), ErrorCode.LogInvalidArgument);
    expect(await log.last('c')).toBe(0);
    expect((await log.append('c', { from: 'a', body: new Uint8Array(1024) })).seq).toBe(1);
  });

  s.test('close - every call fails with LOG_CLOSED afterwards; close is idempotent', async () => {
    const h = await s.env.open();
    const log = await h.peer();
    await log.append('z', { from: 'a', body: 1 });
    await log.close();
    await log.close();
    await expectFails(() => log.append('z', { from: 'a', body: 2 }), ErrorCode.LogClosed);
    await expectFails(() => log.read('z'), ErrorCode.LogClosed);
    await expectFails(() => log.last('z'), ErrorCode.LogClosed);
    await expectFails(() => log.firstAvailable('z'), ErrorCode.LogClosed);
    await expectFails(() => log.erase('z'), ErrorCode.LogClosed);
    await expectFails(() => log.eraseFrom('a'), ErrorCode.LogClosed);
    const copy = { conversation: 'z', seq: 2, id: 'copy', from: 'a', timestamp: Date.now(), body: 2, headers: {} };
    await expectFails(() => log.store(copy), ErrorCode.LogClosed);
    await expectFails(() => log.storeMany([copy]), ErrorCode.LogClosed);
    // Other handles on the store are unaffected.
    expect((await h.log.read('z')).map((e) => e.seq)).toEqual(range(1, 1));
  });
}
