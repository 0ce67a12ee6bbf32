/**
 * The residency property (property.ts) on the embedded bus: random topologies of 3–5 regions,
 * a fixed number of seeded runs in CI (MERIDIAN_RESIDENCY_RUNS / MERIDIAN_RESIDENCY_SEED to
 * change them; a failing run prints its seed and scenario). Storage read directly: every file
 * under each region's data dir (SQLite logs, dead letters, audit) and every retained KV entry
 * with the region holding its bucket.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import { runScenario, scenarios } from './property.js';
import type { PropertyDriver } from './property.js';

const RUNS = Number(process.env['MERIDIAN_RESIDENCY_RUNS'] ?? 4);
const SEED = Number(process.env['MERIDIAN_RESIDENCY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

function files(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

const embedded: PropertyDriver = async (topology) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-residency-prop-'));
  const d = await startEmbeddedDeployment(topology, { dataDir, region: { presence: { graceMs: 400, ttlMs: 5000 }, node: { auth: { dev: true } } } });
  return {
    urls: d.urls,
    kill: (r) => Promise.resolve(d.network!.kill(r)),
    revive: (r) => Promise.resolve(d.network!.revive(r)),
    scan() {
      const out: Record<string, { where: string; text: string }[]> = {};
      for (const r of topology.regions) out[r.name] = files(join(dataDir, r.name)).map((f) => ({ where: f.slice(dataDir.length + 1), text: readFileSync(f).toString('latin1') }));
      for (const e of d.network!.storedEntries()) out[e.region]?.push({ where: `kv ${e.bucket} ${e.key}`, text: `${e.key}\n${Buffer.from(e.value).toString('latin1')}` });
      return Promise.resolve(out);
    },
    async close() {
      await d.close();
      if (process.env['MERIDIAN_RESIDENCY_KEEP'] === undefined) rmSync(dataDir, { recursive: true, force: true });
      else process.stderr.write(`kept ${dataDir}\n`);
    },
  };
};

const NAMES = ['us-east', 'eu-west', 'ap-southeast', 'eu-central', 'us-west'];

describe('residency property: embedded bus', () => {
  it(`every stored byte of a conversation is only in regions its rules allow (${RUNS} random topologies, seed ${SEED})`, async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(scenarios(fc.integer({ min: 3, max: 5 }).map((k) => NAMES.slice(0, k))), async (s) => {
        const problems = await runScenario(embedded, s, `p${SEED.toString(36)}x${n++}`);
        expect(problems, `seed ${SEED}: ${JSON.stringify(s)}`).toEqual([]);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 60_000 + RUNS * 30_000);
});
