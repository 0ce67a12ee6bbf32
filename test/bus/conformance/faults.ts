/**
 * Conformance under faults: a cut link, then a killed and revived region. These disturb the
 * shared fabric, so they run last and in order; each phase sets its fault up in a beforeAll so a
 * skipped test never leaves the next one without its precondition.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ErrorCode } from '../../../src/errors/mod.js';
import type { BusStatus, Kv } from '../../../src/bus/types.js';
import { Collector, dec, enc, expectFails, publishUntil, uniq, uniqBucket, waitFor, warmUp } from './helpers.js';
import type { SuiteContext } from './helpers.js';

const FAULT_TIMEOUT = 90_000;

export function cutLinkTests(ctx: SuiteContext): void {
  describe('with the link between the first two regions cut', () => {
    const subject = uniq('cut');
    let cs: Collector[] = [];
    let restored = false;

    beforeAll(async () => {
      cs = [0, 1, 2].map((i) => new Collector(ctx.bus(i), subject));
      for (const i of [0, 1, 2]) await ctx.bus(i).flush();
      for (const i of [0, 1, 2]) await warmUp(ctx.bus(i), subject, cs);
      await ctx.fabric.cut(ctx.region(0), ctx.region(1));
    }, FAULT_TIMEOUT);

    afterAll(async () => {
      if (!restored) await ctx.fabric.restore(ctx.region(0), ctx.region(1));
      for (const c of cs) c.sub.unsubscribe();
    }, FAULT_TIMEOUT);

    ctx.test('while a link is cut, traffic between the other pairs of regions still flows', async () => {
      await publishUntil(ctx.bus(0), subject, cs[2]!, 'cut-0to2');
      await publishUntil(ctx.bus(2), subject, cs[0]!, 'cut-2to0');
      await publishUntil(ctx.bus(1), subject, cs[2]!, 'cut-1to2');
      await publishUntil(ctx.bus(2), subject, cs[1]!, 'cut-2to1');
    }, FAULT_TIMEOUT);

    ctx.test('after the link is restored, traffic across it flows again', async () => {
      await ctx.fabric.restore(ctx.region(0), ctx.region(1));
      restored = true;
      await publishUntil(ctx.bus(0), subject, cs[1]!, 'restored-0to1');
      await publishUntil(ctx.bus(1), subject, cs[0]!, 'restored-1to0');
    }, FAULT_TIMEOUT);
  });
}

export function killedRegionTests(ctx: SuiteContext): void {
  const subject = uniq('down');
  const homedInDead = uniqBucket('dead-home');
  const homedInLive = uniqBucket('live-home');
  let cs: Collector[] = [];
  let deadKvFromLive: Kv;
  let liveKvFromOther: Kv;
  const statuses: BusStatus[] = [];
  /** Tags published while the third region was down: it must never receive them. */
  const duringTag = 'during';

  describe('with the third region killed', () => {
    beforeAll(async () => {
      cs = [0, 1, 2].map((i) => new Collector(ctx.bus(i), subject));
      for (const i of [0, 1, 2]) await ctx.bus(i).flush();
      for (const i of [0, 1, 2]) await warmUp(ctx.bus(i), subject, cs);
      const deadHome = await ctx.bus(2).kv(homedInDead, { region: ctx.region(2) });
      await deadHome.put('k', enc('before'));
      deadKvFromLive = await ctx.bus(0).kv(homedInDead);
      await (await ctx.bus(0).kv(homedInLive, { region: ctx.region(0) })).put('k', enc('live'));
      liveKvFromOther = await ctx.bus(1).kv(homedInLive);
      void (async () => {
        for await (const s of ctx.bus(2).status()) statuses.push(s);
      })();
      await ctx.fabric.kill(ctx.region(2));
    }, FAULT_TIMEOUT);

    ctx.test('while a region is down, messages between the other regions still flow and it receives none of them', async () => {
      const sent = await publishUntil(ctx.bus(0), subject, cs[1]!, `${duringTag}-0to1`);
      await publishUntil(ctx.bus(1), subject, cs[0]!, `${duringTag}-1to0`);
      // Per-publisher order: once the last one sent has arrived, the third region had its chance.
      await waitFor('the last message sent to reach the second region', () => cs[1]!.texts.includes(`${duringTag}-0to1-${sent - 1}`));
      expect(cs[2]!.texts.filter((t) => t.startsWith(duringTag))).toEqual([]);
    }, FAULT_TIMEOUT);

    ctx.test('while a region is down, KV buckets homed there reject with BUS_UNAVAILABLE or BUS_TIMEOUT', async () => {
      await expectFails(() => deadKvFromLive.get('k'), ErrorCode.BusUnavailable, ErrorCode.BusTimeout);
      await expectFails(() => deadKvFromLive.put('k', enc('while down')), ErrorCode.BusUnavailable, ErrorCode.BusTimeout);
    }, FAULT_TIMEOUT);

    ctx.test('while a region is down, KV buckets homed in other regions keep working', async () => {
      expect(dec((await liveKvFromOther.get('k'))!.value)).toBe('live');
      await liveKvFromOther.put('k', enc('still live'));
      expect(dec((await liveKvFromOther.get('k'))!.value)).toBe('still live');
    }, FAULT_TIMEOUT);

    ctx.test('a bus in a killed region reports disconnected through status()', async () => {
      await waitFor('a disconnected status', () => statuses.some((s) => s.type === 'disconnected'), 30_000);
      expect(statuses.find((s) => s.type === 'disconnected')?.region).toBe(ctx.region(2));
    }, FAULT_TIMEOUT);
  });

  describe('after the third region is revived', () => {
    beforeAll(async () => {
      await ctx.fabric.revive(ctx.region(2));
    }, FAULT_TIMEOUT);

    ctx.test('after revive, messages reach the revived region and leave it again', async () => {
      await publishUntil(ctx.bus(0), subject, cs[2]!, 'after-0to2');
      await publishUntil(ctx.bus(2), subject, cs[0]!, 'after-2to0');
      await publishUntil(ctx.bus(2), subject, cs[1]!, 'after-2to1');
      // What was published while it was down is gone for it (core messaging keeps nothing).
      expect(cs[2]!.texts.filter((t) => t.startsWith(duringTag))).toEqual([]);
    }, FAULT_TIMEOUT);

    ctx.test('after revive, KV data homed in the revived region is intact and writable', async () => {
      let value: string | undefined;
      await waitFor('the bucket to answer again', async () => {
        try {
          value = dec((await deadKvFromLive.get('k'))?.value ?? enc('<missing>'));
          return true;
        } catch {
          return false;
        }
      }, 60_000, 250);
      expect(value).toBe('before');
      await deadKvFromLive.put('k', enc('after'));
      expect(dec((await deadKvFromLive.get('k'))!.value)).toBe('after');
    }, FAULT_TIMEOUT);

    ctx.test('after revive, the bus in the revived region reports reconnected after disconnected', async () => {
      await waitFor('a reconnected status', () => {
        const down = statuses.findIndex((s) => s.type === 'disconnected');
        return down >= 0 && statuses.slice(down).some((s) => s.type === 'reconnected');
      }, 30_000);
    }, FAULT_TIMEOUT);
  });
}
