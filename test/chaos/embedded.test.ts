/**
 * Randomized fault schedules (test/chaos/schedule.ts) on the embedded bus: a fixed set of seeds
 * in CI, each on a fresh deployment. `npm run chaos -- --schedules 100` runs more.
 */
import { describe, expect, it } from 'vitest';
import { embeddedChaos } from './deployments.js';
import { runSchedule } from './schedule.js';

const SEEDS = [1, 2, 3];

describe('fault schedules, embedded bus', () => {
  it.each(SEEDS)('seed %i: every acked replicated message survives, seqs dense, deliveries match the history', async (seed) => {
    const d = await embeddedChaos();
    try {
      const r = await runSchedule(d, seed);
      expect(r.acked).toBeGreaterThan(0);
      expect(r.problems, `seed ${seed}, schedule ${JSON.stringify(r.schedule)}`).toEqual([]);
    } finally {
      await d.close();
    }
  }, 120_000);
});
