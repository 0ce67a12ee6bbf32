/**
 * A stalled process is no evidence against the other regions: when this process's event loop is
 * blocked longer than failoverAfterMs (a long synchronous task, a busy machine), the regions it
 * could not hear meanwhile are not taken over; a region really lost afterwards still is. And a
 * home whose lease lapsed during the stall writes again once a round has run, instead of refusing
 * with MSG_FENCED at once. On the embedded bus, with real Failover instances and fence buckets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { Failover } from '../../src/failover/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { sleep, waitFor } from '../e2e/helpers.js';

const FAILOVER_MS = 600;

/** Block the event loop, as a long synchronous task would. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

/** A busy process for `forMs`: every turn of the event loop also runs a `blockMs` synchronous task. */
async function busy(blockMs: number, forMs: number): Promise<void> {
  const t = setInterval(() => stall(blockMs), 1);
  await sleep(forMs);
  clearInterval(t);
}

describe('failover and a stalled process', () => {
  let network: EmbeddedNetwork | undefined;
  const running: Failover[] = [];

  afterEach(async () => {
    for (const f of running.splice(0)) f.close();
    await network?.close();
  });

  const startAll = async (): Promise<{ placement: ConversationPlacement; all: Failover[] }> => {
    const t = defaultTopology();
    network = new EmbeddedNetwork(t.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })), { latencyMs: () => 5 });
    const placement = new ConversationPlacement(t);
    const all: Failover[] = [];
    for (const r of t.regions) {
      const f = new Failover({ bus: network.connect(r.name), placement, failoverAfterMs: FAILOVER_MS, startupGraceMs: 0 });
      running.push(f);
      all.push(f);
      await f.start();
    }
    await sleep(FAILOVER_MS); // every region has heard every other
    return { placement, all };
  };

  it('a stall longer than failoverAfterMs, or a busy stretch, takes nothing over; a region lost afterwards is taken over', async () => {
    const { all } = await startAll();
    expect(all.map((f) => f.records())).toEqual([[], [], []]);
    stall(FAILOVER_MS * 4);
    await sleep(FAILOVER_MS * 2);
    // Then a busy stretch: answers come, but each a few slow turns late.
    await busy(FAILOVER_MS / 3, FAILOVER_MS * 8);
    await sleep(FAILOVER_MS * 2);
    expect(all.map((f) => f.records())).toEqual([[], [], []]);
    network!.kill('ap-southeast');
    const [us, eu] = all;
    await waitFor(() => us!.records().some((r) => r.home === 'ap-southeast') && eu!.records().some((r) => r.home === 'ap-southeast'), 'ap-southeast taken over', 10_000, 50);
  });

  it('a home whose lease lapsed in a stall waits for the next round instead of refusing at once', async () => {
    const { placement, all } = await startAll();
    const us = all[0]!;
    const conversation = Array.from({ length: 200 }, (_, i) => `dm:a${i}:b${i}`).find((c) => placement.chainOf(c)[0] === 'us-east')!;
    expect(us.checkWrite(conversation).owner).toBe('us-east');
    stall(us.leaseMs * 2);
    expect(() => us.checkWrite(conversation)).toThrow(/cannot confirm/);
    // Asked now, and the process stalls again before any round can run: the stalled time does
    // not use up the write's wait, so it is answered once a round has renewed the lease.
    const write = us.mayWrite(conversation);
    stall(us.leaseMs * 2);
    await expect(write).resolves.toMatchObject({ owner: 'us-east', epoch: 1 });
  });
});
