/**
 * Randomized fault schedules (test/chaos/schedule.ts) on the embedded bus: a fixed set of seeds
 * in CI, each on a fresh deployment. `npm run chaos -- --schedules 100` runs more.
 */
import { describe, expect, it } from 'vitest';
import { embeddedChaos } from './deployments.js';
import { runSchedule } from './schedule.js';

// 2 and 6 kill a region long enough for its replica to take over; 4 cuts one link for 4.4 s
// (a majority still hears both ends: nothing may fail over).
const SEEDS = [2, 4, 6];
const TAKEOVER = new Set([2, 6]);

describe('fault schedules, embedded bus', () => {
  it.each(SEEDS)('seed %i: every acked replicated message survives, seqs dense, deliveries match the history', async (seed) => {
    const d = await embeddedChaos();
    try {
      const r = await runSchedule(d, seed);
      expect(r.acked).toBeGreaterThan(0);
      if (TAKEOVER.has(seed)) expect(r.takeovers.length).toBeGreaterThan(0);
      else expect(r.takeovers).toEqual([]);
      expect(r.problems, `seed ${seed}, schedule ${JSON.stringify(r.schedule)}`).toEqual([]);
    } finally {
      await d.close();
    }
  }, 120_000);
});
