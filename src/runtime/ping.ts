/**
 * Region liveness over the bus: every region answers pings on its own subject, and any region
 * can measure the round trip to any other. `meridian up` uses it to show the WAN it runs on.
 */
import { subjects } from '../bus/subjects.js';
import type { Bus, Subscription } from '../bus/types.js';

const encoder = new TextEncoder();

/** Answer pings addressed to this bus's region with the region name. */
export function answerPings(bus: Bus): Subscription {
  return bus.subscribe(subjects.ping(bus.region), (msg) => {
    if (msg.reply) bus.publish(msg.reply, encoder.encode(bus.region));
  });
}

/** Round trip from `from` to `to`'s region in ms, or undefined when it does not answer. */
export async function ping(from: Bus, to: string, timeoutMs = 2000): Promise<number | undefined> {
  const start = performance.now();
  try {
    await from.request(subjects.ping(to), new Uint8Array(0), { timeoutMs });
    return performance.now() - start;
  } catch {
    return undefined;
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
