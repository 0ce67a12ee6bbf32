// `meridian up` runs three region nodes and the edge in one process: each serves its own
// /metrics (its own registry, the process metrics once), promtool accepts every exposition,
// and --log-level sets the JSON log lines (a bad value is a usage error).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../e2e/helpers.js';
import { promtoolCheck, promtoolMissing, value } from './prom.js';

interface UpInfo {
  regions: Record<string, string>;
  edge: string;
}

let child: ChildProcess;
let info: UpInfo;
let stderr = '';

beforeAll(async () => {
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--port-base', '0', '--json', '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(() => out.includes('\n') || child.exitCode !== null, () => `meridian up to print its JSON line (stderr: ${stderr})`, 30_000);
  info = JSON.parse(out.trim().split('\n')[0]!) as UpInfo;
}, 40_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});

describe('meridian up: one process, one exposition per node and edge', () => {
  it('every region and the edge serve /metrics with their own labels; process metrics appear once in each', async () => {
    for (const [region, url] of Object.entries(info.regions)) {
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(value(text, 'meridian_bus_connected', { region })).toBe(1);
      expect(text.match(/^# TYPE process_cpu_user_seconds_total /gm)).toHaveLength(1);
      // The service mesh is mounted: its DLQ (empty) is exported.
      expect(text).toMatch(/^meridian_dlq_depth\{[^}]*\} 0$/m);
      if (promtoolMissing === undefined) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
    }
    const edge = await (await fetch(`${info.edge}/metrics`)).text();
    expect(value(edge, 'meridian_edge_info', { component: 'edge' })).toBe(1);
    if (promtoolMissing === undefined) expect(promtoolCheck(edge)).toEqual({ code: 0, output: '' });
  });

  it('logs are JSON lines on stderr; a drain is logged when it stops', async () => {
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
    const events = lines.map((l) => JSON.parse(l) as { event?: string; region?: string; level: number });
    expect(events.filter((e) => e.event === 'drain').map((e) => e.region).sort()).toEqual(Object.keys(info.regions).sort());
  });

  it('--log-level with an unknown level is a usage error (exit 2)', () => {
    for (const cmd of [['up'], ['edge', '--regions', 'us-east=http://127.0.0.1:1'], ['region', 'us-east', '--dev']]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', ...cmd, '--log-level', 'loud'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, cmd.join(' ')).toBe(2);
      expect(r.stderr).toContain('--log-level');
    }
  });
});
