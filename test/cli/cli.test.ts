import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import { main } from '../../src/cli/main.js';

const dir = mkdtempSync(join(tmpdir(), 'meridian-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('meridian validate', () => {
  it('accepts both examples', async () => {
    const r = await run(['validate', 'examples/meridian.yaml', 'examples/five-regions.yaml']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('examples/five-regions.yaml: ok (5 regions: us-east, us-west, eu-west, ap-southeast, ap-northeast)');
  });

  it('rejects a broken file with every problem as file:line:column and exits 1', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'regions:\n  - name: a\n    location: { lat: 1, lon: 999 }\n    jurisdiction: US\n    fallback: [b]\n');
    const r = await run(['validate', file]);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toEqual([
      `${file}:3:30 regions[0].location.lon: longitude must be between -180 and 180`,
      `${file}:5:16 regions[0].fallback[0]: unknown region "b" in fallback (known: a)`,
    ]);
  });

  it('reports a missing file and a usage error distinctly', async () => {
    const missing = await run(['validate', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('cannot read topology file');
    const usage = await run(['validate', '--frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain("Unknown option '--frobnicate'");
  });
});

describe('meridian', () => {
  it('lists its commands and refuses unknown ones', async () => {
    expect((await run(['--help'])).out).toMatch(/up\s+start every region/);
    const r = await run(['frob']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command "frob"');
  });

  it('region and up refuse bad arguments with exit 2', async () => {
    expect((await run(['region'])).code).toBe(2);
    expect((await run(['region', 'us-east', '--bus', 'carrier-pigeon'])).code).toBe(2);
    const noAuth = await run(['region', 'us-east', '--port', '0']);
    expect(noAuth.code).toBe(2);
    expect(noAuth.err).toContain('no way to authenticate clients');
    const unknown = await run(['region', 'mars', '--dev']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no region "mars"');
    expect((await run(['up', '--port-base', 'x'])).code).toBe(2);
    expect((await run(['region', '--help'])).out).toContain('Usage: meridian region NAME');
  });

  it('up refuses an invalid topology without starting anything', async () => {
    const file = join(dir, 'bad-up.yaml');
    writeFileSync(file, 'regions: []\n');
    const r = await run(['up', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('at least one region');
    expect(r.out).toBe('');
  });

  it('up starts the three built-in regions, measures the WAN and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--port-base', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!out.includes('ready.') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    expect(out, err).toContain('ready.');
    expect(out).toContain('3 regions on the embedded bus');
    // us-east ↔ eu-west is ~5,450 km: ~109 ms round trip at 1 ms per 100 km one way.
    const m = /us-east\s+Ashburn\s+US\s+http:\/\/127\.0\.0\.1:\d+\s+rtt → eu-west ([\d.]+) ms/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(105);
    expect(out).toMatch(/edge\s+http:\/\/127\.0\.0\.1:\d+/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('stopping');
  });
});
