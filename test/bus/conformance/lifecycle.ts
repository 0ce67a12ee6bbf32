/** Conformance: what close() does to a bus. */
import { expect } from 'vitest';
import { ErrorCode } from '../../../src/errors/mod.js';
import type { BusStatus } from '../../../src/bus/types.js';
import { Collector, enc, expectFails, expectThrows, publishUntil, sleep, uniq, waitFor } from './helpers.js';
import type { SuiteContext } from './helpers.js';

export function lifecycleTests(ctx: SuiteContext): void {
  ctx.test('close() ends subscriptions and status iterators, later calls throw BUS_CLOSED, and close() is idempotent', async () => {
    const bus = await ctx.fabric.connect(ctx.region(0));
    const subject = uniq('close');
    const c = new Collector(bus, subject);
    await bus.flush();
    await publishUntil(ctx.bus(1), subject, c, 'before');

    const statuses: BusStatus[] = [];
    let statusEnded = false;
    void (async () => {
      for await (const s of bus.status()) statuses.push(s);
      statusEnded = true;
    })();

    await bus.close();
    await bus.close();
    await waitFor('the status iterator to end', () => statusEnded);

    const received = c.all.length;
    ctx.bus(1).publish(subject, enc('after'));
    await sleep(200);
    expect(c.all.length).toBe(received);

    expectThrows(() => bus.publish(subject, enc('x')), ErrorCode.BusClosed);
    expectThrows(() => bus.subscribe(subject, () => {}), ErrorCode.BusClosed);
    await expectFails(() => bus.request(subject, enc('x'), { timeoutMs: 200 }), ErrorCode.BusClosed);
    await expectFails(() => bus.kv('conf-closed'), ErrorCode.BusClosed);
    await expectFails(() => bus.flush(), ErrorCode.BusClosed);
  });
}
