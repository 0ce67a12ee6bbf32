/**
 * The topology's `slo:` section: global targets, a region's own under `slo.regions` laid over
 * them field by field, region names checked against `regions:`, as parseTopology and
 * `meridian validate` see them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseTopology, sloTargetsFor, topologyWarnings } from '../../src/topology/mod.js';
import { problemsWithLines as problems } from './problems.js';

const REGIONS = `regions:
  - name: us-east
    location: { lat: 39, lon: -77 }
    jurisdiction: US
  - name: eu-west
    location: { lat: 53, lon: -6 }
    jurisdiction: EU
  - name: constructor
    location: { lat: 1, lon: 104 }
    jurisdiction: SG
`;


const dir = mkdtempSync(join(tmpdir(), 'meridian-slo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function validate(text: string): Promise<{ code: number; out: string; err: string }> {
  const file = join(dir, `t${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, text);
  let out = '';
  let err = '';
  const code = await main(['validate', file], { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out: out.replaceAll(file, 'F'), err: err.replaceAll(file, 'F') };
}

describe('topology: slo', () => {
  it('lays a region\'s own targets over the global ones, field by field', () => {
    const t = parseTopology(`${REGIONS}slo:
  availability: 0.999
  p95Ms: 150
  p99Ms: 300
  regions:
    us-east: { availability: 0.9999, p95Ms: 100 }
    eu-west: { errorRate: 0.01 }
`);
    expect(sloTargetsFor(t, 'us-east')).toEqual({ availability: 0.9999, p95Ms: 100, p99Ms: 300 });
    expect(sloTargetsFor(t, 'eu-west')).toEqual({ availability: 0.999, p95Ms: 150, p99Ms: 300, errorRate: 0.01 });
    // Not listed: the global targets. A region named like an Object member finds none of Object's.
    expect(sloTargetsFor(t, 'constructor')).toEqual({ availability: 0.999, p95Ms: 150, p99Ms: 300 });
  });

  it('keeps the global-only shape, and no targets at all means none for any region', () => {
    expect(sloTargetsFor(parseTopology(`${REGIONS}slo: { availability: 0.9, p99Ms: 200 }\n`), 'eu-west')).toEqual({ availability: 0.9, p99Ms: 200 });
    expect(sloTargetsFor(parseTopology(REGIONS), 'eu-west')).toEqual({});
    // Only per-region targets: the others have none.
    const t = parseTopology(`${REGIONS}slo:\n  regions:\n    eu-west: { p95Ms: 80 }\n`);
    expect(sloTargetsFor(t, 'eu-west')).toEqual({ p95Ms: 80 });
    expect(sloTargetsFor(t, 'us-east')).toEqual({});
  });

  it('refuses a region name the topology does not have, naming the known ones, and bad per-region values', () => {
    const ps = problems(`${REGIONS}slo:
  availability: 0.999
  regions:
    us-esat: { p95Ms: 100 }
    eu-west: { availability: 1.5, p50Ms: 10 }
`);
    expect(ps).toEqual(
      expect.arrayContaining([
        { path: 'slo.regions.us-esat', line: 14, message: 'unknown region "us-esat" in slo.regions (known: us-east, eu-west, constructor)' },
        expect.objectContaining({ path: 'slo.regions.eu-west.availability', line: 15 }),
        expect.objectContaining({ path: 'slo.regions.eu-west.p50Ms', line: 15, message: 'unknown key "p50Ms"' }),
      ]),
    );
    expect(ps).toHaveLength(3);
    expect(ps.find((p) => p.path === 'slo.regions.eu-west.availability')!.message).toContain('<=1');
  });

  it('meridian validate prints the unknown region with its line and exits 1', async () => {
    const r = await validate(`${REGIONS}slo:\n  regions:\n    mars: { p95Ms: 100 }\n`);
    expect(r.code).toBe(1);
    expect(r.err).toBe('F:13:11 slo.regions.mars: unknown region "mars" in slo.regions (known: us-east, eu-west, constructor)\n');
  });

  it('warns when a region tightens availability while the global errorRate stays its budget', async () => {
    const text = `${REGIONS}slo:\n  errorRate: 0.01\n  regions:\n    us-east: { availability: 0.9999 }\n    eu-west: { availability: 0.9999, errorRate: 0.0001 }\n`;
    expect(topologyWarnings(parseTopology(text)).map((w) => w.path.join('.'))).toEqual(['slo.regions.us-east.availability']);
    const r = await validate(text);
    expect(r.code).toBe(0);
    expect(r.err).toBe('F: warning: slo.regions.us-east.availability: region us-east sets availability but inherits errorRate 0.01, which stays its error budget (burn rate): set errorRate for us-east too\n');
  });
});
