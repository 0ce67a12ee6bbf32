import { spawn } from 'node:child_process';
import { expect, it, beforeAll, afterAll } from 'vitest';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { describeWithNats, REGIONS, latencyMs, waitFor } from '../bus/nats-env.js';

describeWithNats('meridian up --bus nats', () => {
  let sc: SuperCluster;
  beforeAll(async () => {
    sc = await startSuperCluster({ regions: REGIONS, latencyMs });
  });
  afterAll(async () => {
    await sc?.close();
  });

  it('attaches every region to its own cluster and measures the gateway RTT', async () => {
    const nats = REGIONS.map((r) => `${r}=${sc.url(r)}`).join(',');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--bus', 'nats', '--nats', nats], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => out.includes('ready.') || child.exitCode !== null, 'meridian up to be ready', 20_000);
    expect(out, err).toContain('3 regions on the nats bus');
    // us-east <-> eu-west is 8 ms one way through the gateway proxy: the ping crosses it twice.
    const m = /us-east\s+Ashburn\s+US\s+rtt → eu-west ([\d.]+) ms/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(2 * latencyMs('us-east', 'eu-west'));
    expect(out).not.toContain('unreachable');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses a region missing from --nats with the way to fix it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--bus', 'nats', '--nats', `us-east=${sc.url('us-east')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(err).toContain('region eu-west has no NATS urls');
  });
});
