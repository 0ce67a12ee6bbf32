/**
 * The ONE bus conformance suite: every `Bus` implementation runs it through a `FabricFactory`
 * (see fabric.ts), so the embedded bus and the NATS bus are held to the same contract (types.ts).
 *
 * One fabric per run (a NATS fabric starts a super-cluster): tests stay independent through
 * unique subjects and bucket names. Fault tests disturb the fabric, so they come last, in order.
 * Known differences of an implementation are registered as skipped tests carrying the reason.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { Bus } from '../../src/bus/types.js';
import type { BusFabric, FabricFactory } from './fabric.js';
import { makeTest } from './conformance/helpers.js';
import type { SuiteContext } from './conformance/helpers.js';
import { pubSubTests } from './conformance/pubsub.js';
import { queueTests } from './conformance/queue.js';
import { requestTests } from './conformance/request.js';
import { kvTests } from './conformance/kv.js';
import { lifecycleTests } from './conformance/lifecycle.js';
import { cutLinkTests, killedRegionTests } from './conformance/faults.js';

export function runBusConformance(factory: FabricFactory): void {
  describe(`bus conformance (${factory.name})`, () => {
    let fabric: BusFabric | undefined;
    const buses: Bus[] = [];

    beforeAll(async () => {
      fabric = await factory.create();
      if (fabric.regions.length < 3) throw new Error(`the conformance suite needs three regions, the fabric has ${fabric.regions.length}`);
      for (const region of fabric.regions.slice(0, 3)) buses.push(await fabric.connect(region));
    }, 120_000);

    afterAll(async () => {
      await fabric?.close();
    }, 60_000);

    const ctx: SuiteContext = {
      get fabric(): BusFabric {
        if (!fabric) throw new Error('the fabric is not created yet');
        return fabric;
      },
      bus: (i) => {
        const bus = buses[i];
        if (!bus) throw new Error(`no bus for region index ${i}`);
        return bus;
      },
      region: (i) => ctx.bus(i).region,
      test: makeTest(factory),
    };

    pubSubTests(ctx);
    queueTests(ctx);
    requestTests(ctx);
    kvTests(ctx);
    lifecycleTests(ctx);
    cutLinkTests(ctx);
    killedRegionTests(ctx);
  });
}
