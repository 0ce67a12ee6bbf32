/**
 * Takeovers at startup: a region that comes up well after the others (longer than
 * failoverAfterMs) keeps its homes, because a region never heard since this one started gets the
 * startup grace on top; once heard, its loss is taken over after failoverAfterMs as usual. On the
 * embedded bus, with real Failover instances and fence buckets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { Failover } from '../../src/failover/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { waitFor, sleep } from '../e2e/helpers.js';

const FAILOVER_MS = 600;

describe('failover at startup', () => {
  let network: EmbeddedNetwork | undefined;
  const running: Failover[] = [];

  afterEach(async () => {
    for (const f of running.splice(0)) f.close();
    await network?.close();
  });

  const start = async (region: string, placement: ConversationPlacement, startupGraceMs?: number): Promise<Failover> => {
    const f = new Failover({ bus: network!.connect(region), placement, failoverAfterMs: FAILOVER_MS, ...(startupGraceMs === undefined ? {} : { startupGraceMs }) });
    running.push(f);
    await f.start();
    return f;
  };

  it('a region starting later than failoverAfterMs after the others keeps its homes; once heard and then lost, it is taken over', async () => {
    const t = defaultTopology();
    network = new EmbeddedNetwork(t.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })), { latencyMs: () => 5 });
    const placement = new ConversationPlacement(t);
    const us = await start('us-east', placement, 3000);
    const eu = await start('eu-west', placement, 3000);
    await sleep(FAILOVER_MS * 3);
    const ap = await start('ap-southeast', placement, 3000);
    await sleep(FAILOVER_MS * 2);
    expect([us.records(), eu.records(), ap.records()]).toEqual([[], [], []]);
    network.kill('ap-southeast');
    await waitFor(() => us.records().some((r) => r.home === 'ap-southeast') && eu.records().some((r) => r.home === 'ap-southeast'), 'ap-southeast taken over after it was heard and lost', 10_000, 50);
  });

  it('without the grace (0 ms), the late region would have been taken over before it came up', async () => {
    const t = defaultTopology();
    network = new EmbeddedNetwork(t.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })), { latencyMs: () => 5 });
    const placement = new ConversationPlacement(t);
    const us = await start('us-east', placement, 0);
    await start('eu-west', placement, 0);
    await waitFor(() => us.records().some((r) => r.home === 'ap-southeast'), 'the never-started region taken over', 10_000, 50);
  });
});
