/** Conformance: KV buckets read and written across regions, CAS, keys, watches, TTL. */
import { expect } from 'vitest';
import { ErrorCode } from '../../../src/errors/mod.js';
import { collectWatch, dec, enc, expectFails, uniqBucket, waitFor } from './helpers.js';
import type { SuiteContext } from './helpers.js';

export function kvTests(ctx: SuiteContext): void {
  ctx.test('KV writes in one region are read in another: put, get, create, update by revision, delete', async () => {
    const bucket = uniqBucket('crud');
    const home = await ctx.bus(0).kv(bucket, { region: ctx.region(0) });
    const b = await ctx.bus(1).kv(bucket);
    const c = await ctx.bus(2).kv(bucket);
    expect(home.bucket).toBe(bucket);

    expect(await c.get('never.set')).toBeNull();
    const r1 = await b.put('user.1', enc('alice'));
    const got = await c.get('user.1');
    expect(got).toMatchObject({ bucket, key: 'user.1', revision: r1, operation: 'PUT' });
    expect(dec(got!.value)).toBe('alice');

    await expectFails(() => c.create('user.1', enc('mallory')), ErrorCode.KvKeyExists);
    await expectFails(() => c.update('user.1', enc('mallory'), r1 + 100), ErrorCode.KvWrongRevision);
    const r2 = await c.update('user.1', enc('alice2'), r1);
    expect(r2).toBeGreaterThan(r1);
    await expectFails(() => b.update('user.1', enc('stale'), r1), ErrorCode.KvWrongRevision);
    expect(dec((await home.get('user.1'))!.value)).toBe('alice2');

    await b.delete('user.1');
    expect(await c.get('user.1')).toBeNull();
    expect(await home.get('user.1')).toBeNull();
    const r3 = await c.create('user.1', enc('again'));
    expect(r3).toBeGreaterThan(r2);
    expect(dec((await b.get('user.1'))!.value)).toBe('again');
  });

  ctx.test('KV keys() lists the keys holding a value, optionally filtered by a pattern', async () => {
    const bucket = uniqBucket('keys');
    const kv = await ctx.bus(1).kv(bucket, { region: ctx.region(0) });
    for (const k of ['room.a', 'room.b', 'user.x', 'gone']) await kv.put(k, enc(k));
    await kv.delete('gone');
    const other = await ctx.bus(2).kv(bucket);
    expect((await other.keys()).sort()).toEqual(['room.a', 'room.b', 'user.x']);
    expect((await other.keys('room.*')).sort()).toEqual(['room.a', 'room.b']);
  });

  ctx.test('a KV watch in another region sees puts and deletes in revision order', async () => {
    const bucket = uniqBucket('watch');
    const writer = await ctx.bus(1).kv(bucket, { region: ctx.region(0) });
    const watcherKv = await ctx.bus(2).kv(bucket);
    const watch = await watcherKv.watch({ initial: false });
    const seen = collectWatch(watch);
    await writer.put('k', enc('1'));
    await writer.put('k', enc('2'));
    await writer.delete('k');
    await writer.put('j', enc('3'));
    await waitFor('four watch events', () => seen.entries.length >= 4);
    expect(seen.entries.map((e) => [e.operation, e.key, dec(e.value)])).toEqual([
      ['PUT', 'k', '1'],
      ['PUT', 'k', '2'],
      ['DEL', 'k', ''],
      ['PUT', 'j', '3'],
    ]);
    const revisions = seen.entries.map((e) => e.revision);
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    expect(new Set(revisions).size).toBe(4);
    watch.stop();
    await waitFor('the watch to end after stop()', () => seen.ended());
  });

  ctx.test('a KV watch delivers current values first, then only changes to matching keys', async () => {
    const bucket = uniqBucket('initial');
    const kv = await ctx.bus(0).kv(bucket, { region: ctx.region(0) });
    await kv.put('w.a', enc('a1'));
    await kv.put('w.b', enc('b1'));
    await kv.put('other', enc('o1'));
    const watch = await (await ctx.bus(1).kv(bucket)).watch({ key: 'w.*' });
    const seen = collectWatch(watch);
    await waitFor('the two current values', () => seen.entries.length >= 2);
    await kv.put('other', enc('o2'));
    await kv.put('w.c', enc('c1'));
    await waitFor('the new matching key', () => seen.entries.length >= 3);
    expect(seen.entries.map((e) => [e.key, dec(e.value)])).toEqual([
      ['w.a', 'a1'],
      ['w.b', 'b1'],
      ['w.c', 'c1'],
    ]);
    watch.stop();
  });

  ctx.test('KV entries expire after the bucket TTL and reads then see nothing', async () => {
    const bucket = uniqBucket('ttl');
    const kv = await ctx.bus(0).kv(bucket, { region: ctx.region(1), ttlMs: 1500 });
    await kv.put('ephemeral', enc('soon gone'));
    expect(dec((await kv.get('ephemeral'))!.value)).toBe('soon gone');
    await waitFor('the entry to expire', async () => (await kv.get('ephemeral')) === null, 15_000, 200);
    expect(await kv.keys()).toEqual([]);
  });

  ctx.test('KV rejects invalid keys and bucket names with typed errors', async () => {
    await expectFails(() => ctx.bus(0).kv('bad.name'), ErrorCode.KvInvalidBucket);
    await expectFails(() => ctx.bus(0).kv('bad name'), ErrorCode.KvInvalidBucket);
    const kv = await ctx.bus(0).kv(uniqBucket('badkeys'));
    for (const bad of ['a b', '', '.a', 'a.', 'a..b', 'a*', 'a.>']) {
      await expectFails(() => kv.put(bad, enc('x')), ErrorCode.KvInvalidKey);
      await expectFails(() => kv.get(bad), ErrorCode.KvInvalidKey);
    }
  });
}
