import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, beforeAll, afterAll } from 'vitest';
import { main } from '../../src/cli/main.js';
import { fetchMonitor, NatsServerProcess, startSuperCluster } from '../../src/testing/mod.js';
import type { Jsz, SuperCluster } from '../../src/testing/mod.js';
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

// `meridian up --bus nats` on a deployment `meridian plan` wrote: the same NKEY seeds and CA that
// `meridian region` takes (`--nats-nkey`, `--nats-ca`), for every region at once.
describeWithNats('meridian up --bus nats on a planned super-cluster (--nats-nkey, --nats-ca)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-up-plan-'));
  const out = join(dir, 'plan');
  const servers: NatsServerProcess[] = [];
  let nats = '';
  let nkeys = '';

  beforeAll(async () => {
    let err = '';
    const code = await main(['plan', '--out', out, '--only', 'nats', '--local'], { out: () => undefined, err: (s) => void (err += s) });
    expect(code, err).toBe(0);
    const ports = JSON.parse(readFileSync(join(out, 'local/ports.json'), 'utf8')) as Record<string, Record<string, number>>;
    for (const r of REGIONS) {
      const host = `${r}-nats-0`;
      servers.push(new NatsServerProcess({ configFile: join(out, 'nats', `${host}.conf`), logFile: join(dir, `${r}.log`), httpUrl: `http://127.0.0.1:${ports[host]!['nats-monitor']}` }));
    }
    await Promise.all(servers.map((s) => s.start()));
    // As an operator would: start the nodes once the super-cluster has formed (a JetStream meta leader).
    await waitFor(async () => (await fetchMonitor<Jsz>(`http://127.0.0.1:${ports['us-east-nats-0']!['nats-monitor']}`, '/jsz')).meta_cluster?.leader !== undefined, 'a JetStream meta leader', 30_000);
    nats = REGIONS.map((r) => `${r}=tls://127.0.0.1:${ports[`${r}-nats-0`]!['nats-client']}`).join(',');
    nkeys = REGIONS.map((r) => `${r}=${join(out, 'nats/users', `${r}-node.nk`)}`).join(',');
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  const up = (args: string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--bus', 'nats', '--port-base', '0', '--nats', nats, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    let e = '';
    child.stdout.on('data', (d: Buffer) => (o += d.toString()));
    child.stderr.on('data', (d: Buffer) => (e += d.toString()));
    return { child, out: () => o, err: () => e, exited: new Promise((resolve) => child.on('exit', (c) => resolve(c))) };
  };

  it('logs every region in with its planned seed over TLS, and carries a message across regions', async () => {
    const p = up(['--nats-nkey', nkeys, '--nats-ca', join(out, 'tls/ca.pem')]);
    try {
      await waitFor(() => p.out().includes('ready.') || p.child.exitCode !== null, 'meridian up to be ready', 45_000);
      expect(p.out(), p.err()).toContain(`3 regions on the nats bus (NKEY login, TLS with the CA in ${join(out, 'tls/ca.pem')})`);
      expect(p.out()).not.toContain('unreachable');
      const east = /us-east\s+Ashburn\s+US\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(p.out())![1]!;
      const eu = /eu-west\s+Dublin\s+EU\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(p.out())![1]!;
      const alice = await TestClient.dev(`${east.replace('http', 'ws')}/ws`, 'alice');
      const bob = await TestClient.dev(`${eu.replace('http', 'ws')}/ws`, 'bob');
      expect(await alice.request({ type: 'send', id: 's', to: { user: 'bob' }, body: 'planned creds', clientMsgId: 'k' }, 15_000)).toMatchObject({ type: 'ack', seq: 1 });
      expect(await bob.next('message', () => true, 10_000)).toMatchObject({ from: 'alice', body: 'planned creds' });
      await alice.close();
      await bob.close();
      expect(p.out() + p.err()).not.toMatch(/SU[A-Z2-7]{56}/);
    } finally {
      p.child.kill('SIGTERM');
    }
    expect(await p.exited).toBe(0);
  }, 90_000);

  it('is refused by the planned servers without the seeds', async () => {
    const p = up(['--nats-ca', join(out, 'tls/ca.pem')]);
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain('meridian up: cannot connect to the NATS servers of region us-east');
  }, 60_000);

  it('refuses bad --nats-nkey and --nats-ca arguments with exit 2, never echoing a seed', async () => {
    const run = async (argv: string[]): Promise<{ code: number; err: string }> => {
      let err = '';
      const code = await main(['up', ...argv], { out: () => undefined, err: (s) => void (err += s) });
      return { code, err };
    };
    const seed = join(out, 'nats/users/us-east-node.nk');
    const embedded = await run(['--nats-nkey', seed]);
    expect(embedded.code).toBe(2);
    expect(embedded.err).toContain('--nats-nkey needs --bus nats');
    const short = await run(['--bus', 'nats', '--nats', nats, '--nats-nkey', `us-east=${seed}`]);
    expect(short.code).toBe(2);
    expect(short.err).toContain('--nats-nkey: no seed file for eu-west, ap-southeast');
    const unknown = await run(['--bus', 'nats', '--nats', nats, '--nats-nkey', `mars=${seed}`]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('expected region=FILE with a region of the topology');
    const notSeed = join(dir, 'account.nk');
    writeFileSync(notSeed, 'SAAGNJOZTRPYBXCVSZWZGDQHCMW3OYSHJFCZCODRZYHJQ2MIBFUHUVHTNY\n'); // an account seed, not a user's
    const bad = await run(['--bus', 'nats', '--nats', nats, '--nats-nkey', notSeed, '--nats-ca', join(out, 'tls/ca.pem')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`${notSeed} does not hold an NKEY user seed`);
    expect(bad.err).not.toContain('SAAGNJ');
  });
});
