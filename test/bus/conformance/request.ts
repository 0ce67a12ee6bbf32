/** Conformance: request/reply across regions, no responders, timeouts. */
import { expect } from 'vitest';
import { ErrorCode, isMeridianError } from '../../../src/errors/mod.js';
import type { Bus, BusMessage } from '../../../src/bus/types.js';
import { PROBE, dec, enc, expectFails, uniq, waitFor } from './helpers.js';
import type { SuiteContext } from './helpers.js';

/** Retry probe requests until one is answered: the responder's interest has crossed regions. */
async function untilAnswered(bus: Bus, subject: string): Promise<void> {
  await waitFor(`a responder on ${subject}`, async () => {
    try {
      await bus.request(subject, new Uint8Array(0), { timeoutMs: 1000, headers: { [PROBE]: '1' } });
      return true;
    } catch (err) {
      if (isMeridianError(err, ErrorCode.BusNoResponders) || isMeridianError(err, ErrorCode.BusTimeout)) return false;
      throw err;
    }
  }, 20_000, 50);
}

export function requestTests(ctx: SuiteContext): void {
  ctx.test('a request is answered by a responder in another region, with data and headers', async () => {
    const subject = uniq('req');
    const responder = ctx.bus(2);
    const sub = responder.subscribe(subject, (m) => {
      if (!m.reply) return;
      responder.publish(m.reply, enc(dec(m.data).toUpperCase()), { headers: { 'x-answered-in': responder.region, 'x-echo': m.headers['x-q'] ?? '' } });
    });
    await responder.flush();
    await untilAnswered(ctx.bus(0), subject);
    const reply: BusMessage = await ctx.bus(0).request(subject, enc('ping'), { timeoutMs: 5000, headers: { 'x-q': 'question' } });
    expect(dec(reply.data)).toBe('PING');
    expect(reply.headers).toMatchObject({ 'x-answered-in': ctx.region(2), 'x-echo': 'question' });
    sub.unsubscribe();
  });

  ctx.test('a request to a subject nobody subscribes to rejects with BUS_NO_RESPONDERS or BUS_TIMEOUT within its timeout', async () => {
    const timeoutMs = 500;
    const started = Date.now();
    await expectFails(() => ctx.bus(0).request(uniq('nobody'), enc('x'), { timeoutMs }), ErrorCode.BusNoResponders, ErrorCode.BusTimeout);
    // Generous margin: this guards against hanging, not against being slow.
    expect(Date.now() - started).toBeLessThan(timeoutMs + 5000);
  });

  ctx.test('a request whose responder never answers rejects with BUS_TIMEOUT', async () => {
    const subject = uniq('silent');
    const responder = ctx.bus(1);
    // Answers probes only, so the test knows the responder is reachable before going silent.
    const sub = responder.subscribe(subject, (m) => {
      if (m.reply && m.headers[PROBE] !== undefined) responder.publish(m.reply, new Uint8Array(0));
    });
    await responder.flush();
    await untilAnswered(ctx.bus(0), subject);
    const started = Date.now();
    await expectFails(() => ctx.bus(0).request(subject, enc('x'), { timeoutMs: 400 }), ErrorCode.BusTimeout);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    sub.unsubscribe();
  });
}
