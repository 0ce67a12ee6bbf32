/**
 * A bus that reports every message passing through it — published, requested, and delivered to
 * its subscribers (replies included) — to `onMessage`, and otherwise is the bus it wraps (a
 * Proxy: `instanceof` and every other member behave as before). Tests use it to check what a
 * region's node ever saw on the bus, e.g. that strict-residency frames never reach a region.
 */
import type { Bus, BusMessage, MessageHandler, RequestOptions, SubscribeOptions, Subscription } from '../bus/types.js';

export type TapDirection = 'out' | 'in';
export type TapListener = (direction: TapDirection, subject: string, data: Uint8Array) => void;

export function tapBus(bus: Bus, onMessage: TapListener): Bus {
  const publish = (subject: string, data: Uint8Array, opts?: Parameters<Bus['publish']>[2]): void => {
    onMessage('out', subject, data);
    bus.publish(subject, data, opts);
  };
  const subscribe = (subject: string, handler: MessageHandler, opts?: SubscribeOptions): Subscription =>
    bus.subscribe(
      subject,
      (m) => {
        onMessage('in', m.subject, m.data);
        return handler(m);
      },
      opts,
    );
  const request = async (subject: string, data: Uint8Array, opts?: RequestOptions): Promise<BusMessage> => {
    onMessage('out', subject, data);
    const reply = await bus.request(subject, data, opts);
    onMessage('in', reply.subject, reply.data);
    return reply;
  };
  const own: Record<string | symbol, unknown> = { publish, subscribe, request };
  return new Proxy(bus, {
    get(target, key) {
      if (key in own) return own[key];
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
