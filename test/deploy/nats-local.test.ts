/**
 * A `--local` plan of the default 3-region topology, started for real: one nats-server per
 * generated config, TLS and NKEY users exactly as planned. Checks that the super-cluster forms
 * (gateways both ways, a JetStream meta leader), that a `meridian region` node attaches with the
 * generated seed and CA and carries a message, and that the servers refuse a client without the
 * seed or without the CA.
 */
import { ConversationPlacement } from '../../src/placement/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { spawn } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import { main } from '../../src/cli/main.js';
import { createCa, issueCert, loadCa } from '../../src/deploy/tls/mod.js';
import { fetchMonitor, NatsServerProcess } from '../../src/testing/mod.js';
import type { Gatewayz, Jsz } from '../../src/testing/mod.js';
import { TestClient } from '../node/client.js';
import { describeWithNats, waitFor } from '../bus/nats-env.js';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'];

/**
 * Dial a route or gateway port as a peer server would (TLS from the first byte, presenting
 * `cert`): 'INFO' when the server accepted the certificate and sent its INFO over TLS, else
 * 'refused: …' (it checks client certificates: `verify: true`).
 */
function peerHandshake(port: number, ca: string, cert: { certPem: string; keyPem: string }): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, cert: cert.certPem, key: cert.keyPem, servername: '127.0.0.1' });
    let got = '';
    const done = (result: string): void => {
      s.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(`refused: no INFO within 5 s (${got.slice(0, 40)})`), 5000);
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.startsWith('INFO ')) {
        clearTimeout(timer);
        done('INFO');
      }
    });
    s.on('error', (e: Error) => {
      clearTimeout(timer);
      done(`refused: ${e.message}`);
    });
    s.on('close', () => {
      clearTimeout(timer);
      done('refused: closed');
    });
  });
}

const host = (r: string): string => `${r}-nats-0`;

describeWithNats('meridian plan --local: the generated NATS super-cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-plan-local-'));
  const out = join(dir, 'plan');
  const servers = new Map<string, NatsServerProcess>();
  let ports: Record<string, Record<string, number>>;
  const monitor = (r: string): string => `http://127.0.0.1:${ports[host(r)]!['nats-monitor']}`;
  const clientUrl = (r: string): string => `tls://127.0.0.1:${ports[host(r)]!['nats-client']}`;
  const file = (p: string): string => readFileSync(join(out, p), 'utf8');

  beforeAll(async () => {
    let stdout = '';
    let stderr = '';
    const code = await main(['plan', '--out', out, '--only', 'nats', '--local'], { out: (s) => void (stdout += s), err: (s) => void (stderr += s) });
    expect(code, stderr).toBe(0);
    ports = JSON.parse(file('local/ports.json')) as typeof ports;
    for (const r of REGIONS) {
      servers.set(r, new NatsServerProcess({ configFile: join(out, 'nats', `${host(r)}.conf`), logFile: join(dir, `${r}.log`), httpUrl: monitor(r) }));
    }
    await Promise.all([...servers.values()].map((s) => s.start()));
  });

  afterAll(async () => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('forms the super-cluster: every gateway outbound and inbound on every server, one meta leader', async () => {
    for (const r of REGIONS) {
      const others = REGIONS.filter((o) => o !== r).sort();
      await waitFor(async () => {
        const g = await fetchMonitor<Gatewayz>(monitor(r), '/gatewayz');
        return others.every((o) => g.outbound_gateways?.[o]?.connection !== undefined && (g.inbound_gateways?.[o]?.length ?? 0) > 0);
      }, `${r} gateways to ${others.join(', ')}`, 20_000);
      const g = await fetchMonitor<Gatewayz>(monitor(r), '/gatewayz');
      expect(g.name).toBe(r);
      expect(Object.keys(g.outbound_gateways ?? {}).sort()).toEqual(others);
      expect(Object.keys(g.inbound_gateways ?? {}).sort()).toEqual(others);
    }
    await waitFor(async () => (await fetchMonitor<Jsz>(monitor('us-east'), '/jsz')).meta_cluster?.leader !== undefined, 'a JetStream meta leader', 20_000);
    for (const r of REGIONS) {
      const jsz = await fetchMonitor<Jsz>(monitor(r), '/jsz');
      expect(jsz.meta_cluster?.cluster_size).toBe(3);
      expect(REGIONS.map(host)).toContain(jsz.meta_cluster?.leader);
    }
  });

  it('carries messages across regions for clients with the generated seeds and CA', async () => {
    const ca = file('tls/ca.pem');
    const east = await connectNatsBus({ region: 'us-east', servers: [clientUrl('us-east')], nkeySeed: file('nats/users/us-east-node.nk'), tls: { ca }, maxReconnectAttempts: 0 });
    const asia = await connectNatsBus({ region: 'ap-southeast', servers: [clientUrl('ap-southeast')], nkeySeed: file('nats/users/ap-southeast-node.nk'), tls: { ca }, maxReconnectAttempts: 0 });
    try {
      const got: string[] = [];
      asia.subscribe('plan.check', (m) => got.push(new TextDecoder().decode(m.data)));
      await asia.flush();
      // Gateway interest propagates asynchronously: publish until the first copy arrives.
      await waitFor(async () => {
        east.publish('plan.check', new TextEncoder().encode('over the gateway'));
        await east.flush();
        return got.length > 0;
      }, 'a message from us-east in ap-southeast', 10_000, 100);
      expect(got[0]).toBe('over the gateway');
    } finally {
      await east.close();
      await asia.close();
    }
  });

  it('refuses a client without the seed, with a wrong seed, or without the CA', async () => {
    const ca = file('tls/ca.pem');
    const url = clientUrl('eu-west');
    const refusal = async (opts: { nkeySeed?: string; tls?: { ca: string } }): Promise<string> => {
      try {
        const bus = await connectNatsBus({ region: 'eu-west', servers: [url], maxReconnectAttempts: 0, ...opts });
        await bus.close();
        return 'connected';
      } catch (err) {
        expect(err).toMatchObject({ code: 'BUS_UNAVAILABLE' });
        return String((err as { cause?: unknown }).cause);
      }
    };
    expect(await refusal({ tls: { ca } })).toMatch(/authorization violation/i);
    // A well-formed seed the servers do not know (generated for another plan) is refused too.
    const { createUser } = await import('@nats-io/nkeys');
    expect(await refusal({ nkeySeed: new TextDecoder().decode(createUser().getSeed()), tls: { ca } })).toMatch(/authorization violation/i);
    // The right seed, but the server's certificate cannot be verified without the plan CA.
    expect(await refusal({ nkeySeed: file('nats/users/eu-west-node.nk') })).toMatch(/certificate/i);
    // Control: the same call with both succeeds.
    expect(await refusal({ nkeySeed: file('nats/users/eu-west-node.nk'), tls: { ca } })).toBe('connected');
  });

  it('accepts route and gateway TLS only from holders of a certificate signed by the plan CA', async () => {
    const planCa = await loadCa(file('tls/ca.pem'), file('tls/ca-key.pem'));
    const member = await issueCert(planCa, { commonName: 'peer', names: ['127.0.0.1'] });
    const stranger = await issueCert(await createCa('Not the plan CA'), { commonName: 'peer', names: ['127.0.0.1'] });
    for (const listener of ['nats-cluster', 'nats-gateway']) {
      const port = ports[host('eu-west')]![listener]!;
      expect(await peerHandshake(port, file('tls/ca.pem'), member), listener).toBe('INFO');
      expect(await peerHandshake(port, file('tls/ca.pem'), stranger), listener).toMatch(/^refused/);
    }
  });

  it('runs `meridian region --bus nats` with the settings of nodes/<region>.env, and refuses it without the seed', async () => {
    const env = Object.fromEntries(
      file('nodes/us-east.env')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env['MERIDIAN_NATS_URLS']).toBe(clientUrl('us-east'));
    const args = ['--import', 'tsx', 'src/cli/entry.ts', 'region', 'us-east', '--bus', 'nats', '--dev', '--port', '0', '--data', join(dir, 'node-data')];
    // URLs, seed and CA file all come from the environment, as the .env file is meant to be used.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => stdout.includes('ready.') || child.exitCode !== null, 'meridian region to be ready', 45_000);
      expect(stdout, stderr).toContain('bus nats');
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
      const ws = `${url.replace('http', 'ws')}/ws`;
      // Only us-east's node runs: talk in a conversation homed there (homes are hashed from the id).
      const placement = new ConversationPlacement(defaultTopology());
      let peer = 0;
      while (placement.homeOf(dmConversation('alice', `bob${peer}`)) !== 'us-east') peer++;
      const alice = await TestClient.dev(ws, 'alice');
      const bob = await TestClient.dev(ws, `bob${peer}`);
      expect(await alice.request({ type: 'send', id: 's', to: { user: `bob${peer}` }, body: 'planned', clientMsgId: 'k' }, 15_000)).toMatchObject({ type: 'ack', seq: 1 });
      expect(await bob.next('message', () => true, 10_000)).toMatchObject({ from: 'alice', body: 'planned' });
      await alice.close();
      await bob.close();
      expect(stdout + stderr).not.toMatch(/SU[A-Z2-7]{56}/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);

    const bare = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MERIDIAN_NATS_URLS: env['MERIDIAN_NATS_URLS'], MERIDIAN_NATS_CA_FILE: env['MERIDIAN_NATS_CA_FILE'] } });
    let bareErr = '';
    bare.stderr.on('data', (d: Buffer) => (bareErr += d.toString()));
    const code = await new Promise<number | null>((resolve) => bare.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(bareErr).toContain('cannot connect to the NATS servers of region us-east');
  }, 100_000);
});
