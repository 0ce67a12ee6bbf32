/**
 * The residency property (property.ts) on a real 3-region NATS super-cluster (50 ms one way on
 * every gateway link): random jurisdictions for the three regions, random rules, users, DMs and
 * rooms, the lost region's nats-server killed with SIGKILL during traffic and started again on
 * its JetStream store. A few seeded runs in CI (MERIDIAN_RESIDENCY_NATS_RUNS for more), one
 * super-cluster for all of them. Storage read directly: every message of every stream each
 * region's server holds (logs and KV buckets), and the files under the data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDeployment } from '../../src/runtime/deployment.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { describeWithNats } from '../bus/nats-env.js';
import { NATS_LINK_MS, REGIONS } from '../e2e/deployments.js';
import type { Region } from '../e2e/deployments.js';
import { scanFiles, scanStreams } from '../erasure/storage-scan.js';
import { runScenario, scenarios } from './property.js';
import type { PropertyDriver } from './property.js';

const RUNS = Number(process.env['MERIDIAN_RESIDENCY_NATS_RUNS'] ?? 2);
const SEED = Number(process.env['MERIDIAN_RESIDENCY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

describeWithNats('residency property: NATS super-cluster', () => {
  let sc: SuperCluster;

  beforeAll(async () => {
    sc = await startSuperCluster({ regions: REGIONS, latencyMs: NATS_LINK_MS });
  }, 120_000);

  afterAll(async () => {
    await sc?.close();
  }, 60_000);

  const nats: PropertyDriver = async (topology) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'meridian-residency-nats-'));
    const d = await startDeployment(topology, {
      bus: 'nats',
      nats: REGIONS.map((r) => `${r}=${sc.url(r)}`).join(','),
      dataDir,
      region: { presence: { graceMs: 400, ttlMs: 5000 }, node: { auth: { dev: true } } },
    });
    const urls = Object.fromEntries(REGIONS.map((r) => [r, sc.url(r)])) as Record<Region, string>;
    return {
      urls: d.urls,
      kill: (r) => sc.stop(r, { kill: true }),
      revive: (r) => sc.start(r),
      async scan() {
        const files = scanFiles(dataDir);
        const streams = await scanStreams(urls);
        return Object.fromEntries(REGIONS.map((r) => [r, [...files[r], ...streams[r]]]));
      },
      async close() {
        await d.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  };

  it(`every stored byte of a conversation is only in regions its rules allow (${RUNS} random topologies, seed ${SEED})`, async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(scenarios(fc.constant(REGIONS)), async (s) => {
        const problems = await runScenario(nats, s, `q${SEED.toString(36)}x${n++}`);
        expect(problems, `seed ${SEED}: ${JSON.stringify(s)}`).toEqual([]);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 120_000 + RUNS * 90_000);
});
