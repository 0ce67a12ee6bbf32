import { spawn } from 'node:child_process';
import { expect, it, beforeAll, afterAll } from 'vitest';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { describeWithNats, REGIONS, latencyMs, waitFor } from '../bus/nats-env.js';
import { TestClient } from '../node/client.js';

describeWithNats('meridian up --bus nats', () => {
  let sc: SuperCluster;
  beforeAll(async () => {
    sc = await startSuperCluster({ regions: REGIONS, latencyMs });
  });
  afterAll(async () => {
    await sc?.close();
  });

  it('attaches every region to its own cluster, measures the gateway RTT and carries messages on JetStream', async () => {
    const nats = REGIONS.map((r) => `${r}=${sc.url(r)}`).join(',');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--bus', 'nats', '--nats', nats, '--port-base', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => out.includes('ready.') || child.exitCode !== null, 'meridian up to be ready', 20_000);
    expect(out, err).toContain('3 regions on the nats bus');
    // us-east <-> eu-west is 8 ms one way through the gateway proxy: the ping crosses it twice.
    const m = /us-east\s+Ashburn\s+US\s+(http:\/\/127\.0\.0\.1:\d+)\s+rtt → eu-west ([\d.]+) ms/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThanOrEqual(2 * latencyMs('us-east', 'eu-west'));
    expect(out).not.toContain('unreachable');
    const eu = /eu-west\s+Dublin\s+EU\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    const alice = await TestClient.dev(`${m![1]!.replace('http', 'ws')}/ws`, 'alice');
    const bob = await TestClient.dev(`${eu.replace('http', 'ws')}/ws`, 'bob');
    expect(await alice.request({ type: 'send', id: 's', to: { user: 'bob' }, body: 'over nats', clientMsgId: 'k' }, 15_000)).toMatchObject({ type: 'ack', seq: 1 });
    expect(await bob.next('message', () => true, 10_000)).toMatchObject({ from: 'alice', body: 'over nats' });
    await alice.close();
    await bob.close();
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
