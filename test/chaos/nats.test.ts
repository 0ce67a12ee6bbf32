/**
 * Randomized fault schedules (test/chaos/schedule.ts) on a real 3-region NATS super-cluster:
 * one fixed seed in CI (a super-cluster per schedule is slow); `npm run chaos -- --bus nats`
 * runs more. Skipped with an install hint without nats-server (fails with MERIDIAN_REQUIRE_NATS=1).
 */
import { expect, it } from 'vitest';
import { describeWithNats } from '../bus/nats-env.js';
import { natsChaos } from './deployments.js';
import { runSchedule } from './schedule.js';

describeWithNats('fault schedules, NATS super-cluster', () => {
  it('seed 2: every acked replicated message survives, seqs dense, deliveries match the history', async () => {
    const d = await natsChaos();
    try {
      const r = await runSchedule(d, 2);
      expect(r.acked).toBeGreaterThan(0);
      // This schedule kills us-east for 3.5 s: its replica takes over.
      expect(r.takeovers.length).toBeGreaterThan(0);
      expect(r.problems, `seed 2, schedule ${JSON.stringify(r.schedule)}`).toEqual([]);
    } finally {
      await d.close();
    }
  }, 180_000);
});
