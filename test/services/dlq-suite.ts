/**
 * The DLQ conformance suite (contract in src/services/dlq/types.ts), run against every
 * implementation: SQLite, the bus KV on the embedded network, and JetStream KV on NATS.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import type { AttemptRecord, DeadLetterQueue, NewDeadLetter } from '../../src/services/mod.js';

export interface DlqFactory {
  readonly name: string;
  /** A fresh, empty queue; `reopen` opens the same storage again (durability). */
  create(): Promise<{ dlq: DeadLetterQueue; reopen(): Promise<DeadLetterQueue>; close(): Promise<void> }>;
}

let n = 0;
export function letter(fn = 'resize', deadAt = Date.now(), id = `inv_${++n}_${Math.random().toString(36).slice(2, 8)}`): NewDeadLetter {
  return {
    id,
    function: fn,
    event: { attrs: { id: `ev-${id}`, source: '/t', type: 't', specversion: '1.0' }, dataBase64: Buffer.from('{"a":1}').toString('base64') },
    region: 'us-east',
    acceptedAt: deadAt - 100,
    deadAt,
    lastError: { code: 'SVC_UPSTREAM_FAILED', message: 'boom' },
    attempts: [{ attempt: 1, at: deadAt - 50, durationMs: 5, ok: false, status: 500, worker: 'w1', region: 'us-east' }],
  };
}

const outcome = (ok: boolean): AttemptRecord => ({ attempt: 1, at: Date.now(), durationMs: 3, ok, ...(ok ? { status: 200 } : { error: { code: 'SVC_UPSTREAM_FAILED', message: 'still broken' } }) });

export function runDlqSuite(f: DlqFactory): void {
  describe(`dlq conformance: ${f.name}`, () => {
    let env: Awaited<ReturnType<DlqFactory['create']>> | undefined;
    afterEach(async () => {
      await env?.close();
      env = undefined;
    });
    const open = async (): Promise<DeadLetterQueue> => {
      env = await f.create();
      return env.dlq;
    };

    it('put is durable and idempotent on id; get returns the letter or null', async () => {
      const q = await open();
      const l = letter();
      const stored = await q.put(l);
      expect(stored).toMatchObject({ ...l, state: 'dead', replays: [] });
      const again = await q.put({ ...l, lastError: { code: 'X', message: 'other' } });
      expect(again.lastError.message).toBe('boom');
      expect(await q.get(l.id)).toEqual(stored);
      expect(await q.get('inv_missing')).toBeNull();
      const other = await env!.reopen();
      expect(await other.get(l.id)).toEqual(stored);
    });

    it('lists oldest first, filters by function, pages with a cursor', async () => {
      const q = await open();
      const t = Date.now();
      const ls = [letter('a', t + 3, 'inv_c'), letter('b', t + 1, 'inv_a'), letter('a', t + 2, 'inv_b'), letter('a', t + 2, 'inv_bb')];
      for (const l of ls) await q.put(l);
      expect((await q.list()).map((l) => l.id)).toEqual(['inv_a', 'inv_b', 'inv_bb', 'inv_c']);
      expect((await q.list({ function: 'a' })).map((l) => l.id)).toEqual(['inv_b', 'inv_bb', 'inv_c']);
      expect((await q.list({ limit: 2 })).map((l) => l.id)).toEqual(['inv_a', 'inv_b']);
      expect((await q.list({ limit: 2, after: 'inv_b' })).map((l) => l.id)).toEqual(['inv_bb', 'inv_c']);
      const bad = await q.list({ limit: 0 }).catch((e: unknown) => e);
      expect(isMeridianError(bad, ErrorCode.InvalidArgument)).toBe(true);
    });

    it('records every replay outcome; success marks the letter replayed; concurrent replays are all kept', async () => {
      const q = await open();
      const l = letter();
      await q.put(l);
      const failed = await q.recordReplay(l.id, outcome(false));
      expect(failed.state).toBe('dead');
      expect(failed.replays).toHaveLength(1);
      await Promise.all([q.recordReplay(l.id, outcome(false)), q.recordReplay(l.id, outcome(true))]);
      const after = (await q.get(l.id))!;
      expect(after.replays).toHaveLength(3);
      expect(after.state).toBe('replayed');
      const nf = await q.recordReplay('inv_missing', outcome(true)).catch((e: unknown) => e);
      expect(isMeridianError(nf, ErrorCode.SvcNotFound)).toBe(true);
    });

    it('delete removes a letter and says whether there was one', async () => {
      const q = await open();
      const l = letter();
      await q.put(l);
      expect(await q.delete(l.id)).toBe(true);
      expect(await q.delete(l.id)).toBe(false);
      expect(await q.get(l.id)).toBeNull();
      expect(await q.list()).toEqual([]);
    });

    it('rejects every call after close with BUS_CLOSED', async () => {
      const q = await open();
      await q.close();
      for (const p of [q.put(letter()), q.get('x'), q.list(), q.recordReplay('x', outcome(true)), q.delete('x')]) {
        const err = await p.catch((e: unknown) => e);
        expect(isMeridianError(err, ErrorCode.BusClosed)).toBe(true);
      }
    });
  });
}
