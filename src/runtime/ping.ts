/**
 * Region liveness over the bus: every region answers pings on its own subject, and any region
 * can measure the round trip to any other. `meridian up` uses it to show the WAN it runs on.
 */
import { subjects } from '../bus/subjects.js';
import type { Bus, Subscription } from '../bus/types.js';
import { ErrorCode, isMeridianError } from '../errors/mod.js';

const encoder = new TextEncoder();

/** Answer pings addressed to this bus's region with the region name. */
export function answerPings(bus: Bus): Subscription {
  return bus.subscribe(subjects.ping(bus.region), (msg) => {
    if (msg.reply) bus.publish(msg.reply, encoder.encode(bus.region));
  });
}

/**
 * Round trip from `from` to `to`'s region in ms, or undefined when it does not answer in time.
 * A fresh subscription's interest takes a moment to cross NATS gateways, so "no responders" is
 * retried until the deadline; the RTT reported is the one of the request that was answered.
 */
export async function ping(from: Bus, to: string, timeoutMs = 2000): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const start = performance.now();
    const left = deadline - start;
    if (left <= 0) return undefined;
    try {
      await from.request(subjects.ping(to), new Uint8Array(0), { timeoutMs: left });
      return performance.now() - start;
    } catch (err) {
      if (!isMeridianError(err, ErrorCode.BusNoResponders)) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** RTT for every ordered pair of regions, keyed `from|to`. Installs ping answerers first. */
export async function measureRtts(buses: ReadonlyMap<string, Bus>): Promise<Map<string, number | undefined>> {
  for (const bus of buses.values()) answerPings(bus);
  await Promise.all([...buses.values()].map((b) => b.flush()));
  const out = new Map<string, number | undefined>();
  const jobs: Promise<void>[] = [];
  for (const [from, bus] of buses) {
    for (const to of buses.keys()) {
      if (to !== from) jobs.push(ping(bus, to).then((ms) => void out.set(`${from}|${to}`, ms)));
    }
  }
  await Promise.all(jobs);
  return out;
}
