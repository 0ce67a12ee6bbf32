/** Conformance: plain publish/subscribe across regions, wildcards, order, validation. */
import { expect } from 'vitest';
import { ErrorCode } from '../../../src/errors/mod.js';
import { Collector, dec, enc, expectFails, expectThrows, sleep, uniq, waitFor, warmUp } from './helpers.js';
import type { SuiteContext } from './helpers.js';

export function pubSubTests(ctx: SuiteContext): void {
  const all = [0, 1, 2];

  ctx.test('a message published in any region reaches subscribers in every region with its headers', async () => {
    const subject = uniq('fanout');
    const cs = all.map((i) => new Collector(ctx.bus(i), subject));
    for (const i of all) await ctx.bus(i).flush();
    for (const i of all) await warmUp(ctx.bus(i), subject, cs);
    for (const i of all) {
      ctx.bus(i).publish(subject, enc(`from ${ctx.region(i)}`), { headers: { 'x-origin': ctx.region(i), 'X-Mixed-Case': 'Value with spaces' } });
    }
    await waitFor('three messages in every region', () => cs.every((c) => c.real.length >= 3));
    for (const c of cs) {
      expect(c.texts.sort()).toEqual(all.map((i) => `from ${ctx.region(i)}`).sort());
      for (const m of c.real) {
        expect(m.subject).toBe(subject);
        expect(m.headers).toMatchObject({ 'x-origin': dec(m.data).slice(5), 'X-Mixed-Case': 'Value with spaces' });
      }
      c.sub.unsubscribe();
    }
  });

  ctx.test('wildcard * matches exactly one token and > matches one or more trailing tokens', async () => {
    const base = uniq('wild');
    const star = new Collector(ctx.bus(1), `${base}.*`);
    const tail = new Collector(ctx.bus(1), `${base}.>`);
    const mid = new Collector(ctx.bus(1), `${base}.*.end`);
    await ctx.bus(1).flush();
    await warmUp(ctx.bus(0), [`${base}.probe`, `${base}.probe.end`], [star, tail, mid]);
    for (const s of [base, `${base}.a`, `${base}.a.b`, `${base}.a.end`, `${base}.a.b.end`, `${base}x.a`, `mrd.conformance.a`]) {
      ctx.bus(0).publish(s, enc(s));
    }
    await waitFor('every expected match', () => star.real.length >= 1 && tail.real.length >= 4 && mid.real.length >= 1);
    await sleep(200); // anything wrongly matched would have arrived with the rest
    expect(star.texts).toEqual([`${base}.a`]);
    expect(tail.texts.sort()).toEqual([`${base}.a`, `${base}.a.b`, `${base}.a.b.end`, `${base}.a.end`].sort());
    expect(mid.texts).toEqual([`${base}.a.end`]);
    for (const c of [star, tail, mid]) c.sub.unsubscribe();
  });

  ctx.test('messages from one publisher on one subject arrive in publish order in every region', async () => {
    const subject = uniq('order');
    const cs = all.map((i) => new Collector(ctx.bus(i), subject));
    for (const i of all) await ctx.bus(i).flush();
    await warmUp(ctx.bus(0), subject, cs);
    const n = 300;
    for (let k = 0; k < n; k++) ctx.bus(0).publish(subject, enc(String(k)));
    await waitFor(`${n} messages in every region`, () => cs.every((c) => c.real.length >= n));
    const expected = Array.from({ length: n }, (_, k) => String(k));
    for (const c of cs) {
      expect(c.texts).toEqual(expected);
      c.sub.unsubscribe();
    }
  });

  ctx.test('a subscription receives nothing after unsubscribe, and unsubscribe is idempotent', async () => {
    const subject = uniq('unsub');
    const gone = new Collector(ctx.bus(1), subject);
    const stays = new Collector(ctx.bus(1), subject);
    await ctx.bus(1).flush();
    await warmUp(ctx.bus(0), subject, [gone, stays]);
    gone.sub.unsubscribe();
    gone.sub.unsubscribe();
    await ctx.bus(1).flush();
    ctx.bus(0).publish(subject, enc('after'));
    await waitFor('the remaining subscription to receive', () => stays.real.length === 1);
    await sleep(100);
    expect(gone.real).toEqual([]);
    stays.sub.unsubscribe();
  });

  ctx.test('invalid subjects, headers, queue names and oversized payloads are rejected with typed errors', async () => {
    const bus = ctx.bus(0);
    const ok = uniq('valid');
    const data = enc('x');
    for (const bad of ['', 'a..b', '.a', 'a.', 'a b', 'a.*', 'a.>', '>', 'a\tb']) {
      expectThrows(() => bus.publish(bad, data), ErrorCode.BusInvalidSubject);
      await expectFails(() => bus.request(bad, data, { timeoutMs: 200 }), ErrorCode.BusInvalidSubject);
    }
    for (const bad of ['', 'a..b', 'a.>.b', 'a.b*', 'a.>b', 'a b']) {
      expectThrows(() => bus.subscribe(bad, () => {}), ErrorCode.BusInvalidSubject);
    }
    expectThrows(() => bus.publish(ok, data, { headers: { 'bad name': 'v' } }), ErrorCode.BusInvalidHeader);
    expectThrows(() => bus.publish(ok, data, { headers: { 'x-ok': 'line\r\nInjected: yes' } }), ErrorCode.BusInvalidHeader);
    expectThrows(() => bus.subscribe(ok, () => {}, { queue: 'bad queue' }), ErrorCode.BusInvalidQueue);
    expectThrows(() => bus.publish(ok, new Uint8Array(bus.maxPayload + 1)), ErrorCode.BusPayloadTooLarge);
    await expectFails(() => bus.request(ok, new Uint8Array(bus.maxPayload + 1), { timeoutMs: 200 }), ErrorCode.BusPayloadTooLarge);
  });
}
