/** Conformance: queue groups deliver once per group, local region first, then nearest. */
import { expect } from 'vitest';
import { Collector, enc, sleep, uniq, waitFor, warmUp } from './helpers.js';
import type { SuiteContext } from './helpers.js';

/** Publish `n` tagged messages and wait until the members got them all (exactly once each). */
async function deliverOnce(ctx: SuiteContext, from: number, subject: string, members: readonly Collector[], tag: string, n: number): Promise<void> {
  for (let k = 0; k < n; k++) ctx.bus(from).publish(subject, enc(`${tag}-${k}`));
  const got = (): string[] => members.flatMap((m) => m.texts.filter((t) => t.startsWith(`${tag}-`)));
  await waitFor(`${n} messages tagged ${tag}`, () => got().length >= n);
  await sleep(150); // a duplicate would arrive right behind the original
  const received = got().sort();
  expect(received).toEqual(Array.from({ length: n }, (_, k) => `${tag}-${k}`).sort());
}

const tagged = (c: Collector, tag: string): number => c.texts.filter((t) => t.startsWith(`${tag}-`)).length;

export function queueTests(ctx: SuiteContext): void {
  ctx.test('a queue group delivers each message to exactly one member, in the publisher region', async () => {
    const subject = uniq('queue');
    const opts = { queue: 'workers' };
    const local = [new Collector(ctx.bus(0), subject, opts), new Collector(ctx.bus(0), subject, opts)];
    const others = [new Collector(ctx.bus(1), subject, opts), new Collector(ctx.bus(2), subject, opts)];
    const members = [...local, ...others];
    for (const i of [0, 1, 2]) await ctx.bus(i).flush();
    // Probes from a region go to its local member: once each has one, every member is registered.
    await warmUp(ctx.bus(0), subject, members, () => local.some((m) => m.probes > 0));
    await warmUp(ctx.bus(1), subject, members, () => others[0]!.probes > 0);
    await warmUp(ctx.bus(2), subject, members, () => others[1]!.probes > 0);

    await deliverOnce(ctx, 0, subject, members, 'r0', 30);
    expect(others.map((m) => tagged(m, 'r0'))).toEqual([0, 0]);
    // From each other region, its own member serves.
    await deliverOnce(ctx, 1, subject, members, 'r1', 10);
    expect(tagged(others[0]!, 'r1')).toBe(10);
    await deliverOnce(ctx, 2, subject, members, 'r2', 10);
    expect(tagged(others[1]!, 'r2')).toBe(10);
    for (const m of members) m.sub.unsubscribe();
  });

  ctx.test('a queue group falls back to the nearest region when local members leave, then to the next nearest', async () => {
    const subject = uniq('fallback');
    const home = ctx.region(0);
    const [near, far] = [1, 2].sort((a, b) => ctx.fabric.linkLatencyMs(home, ctx.region(a)) - ctx.fabric.linkLatencyMs(home, ctx.region(b)));
    expect(ctx.fabric.linkLatencyMs(home, ctx.region(near!))).toBeLessThan(ctx.fabric.linkLatencyMs(home, ctx.region(far!)));
    const opts = { queue: 'svc' };
    const local = new Collector(ctx.bus(0), subject, opts);
    const nearM = new Collector(ctx.bus(near!), subject, opts);
    const farM = new Collector(ctx.bus(far!), subject, opts);
    const members = [local, nearM, farM];
    for (const i of [0, 1, 2]) await ctx.bus(i).flush();
    // Probes from a region go to its local member: once each has one, every member is registered.
    await warmUp(ctx.bus(near!), subject, members, () => nearM.probes > 0);
    await warmUp(ctx.bus(far!), subject, members, () => farM.probes > 0);
    await warmUp(ctx.bus(0), subject, members, () => local.probes > 0);

    await deliverOnce(ctx, 0, subject, members, 'local', 10);
    expect(tagged(local, 'local')).toBe(10);

    local.sub.unsubscribe();
    await ctx.bus(0).flush();
    await warmUp(ctx.bus(0), subject, members, () => nearM.probes + farM.probes > 0);
    await deliverOnce(ctx, 0, subject, members, 'near', 10);
    expect(tagged(nearM, 'near')).toBe(10);

    nearM.sub.unsubscribe();
    await ctx.bus(near!).flush();
    const before = farM.probes;
    await warmUp(ctx.bus(0), subject, members, () => farM.probes > before);
    await deliverOnce(ctx, 0, subject, members, 'far', 10);
    expect(tagged(farM, 'far')).toBe(10);
    farM.sub.unsubscribe();
  });
}
