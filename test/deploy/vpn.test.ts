/**
 * The Nebula generator with the real tools: every generated config passes `nebula -test`, every
 * certificate verifies against the CA with `nebula-cert verify`, and carries the planned IP and
 * groups. Skipped (with the reason) where nebula is not installed, unless CI=true.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { inventory } from '../../src/deploy/inventory.js';
import type { LocalPorts, PlanContext, PlannedFile } from '../../src/deploy/types.js';
import { planVpn, renderNebula } from '../../src/deploy/vpn/mod.js';
import { isMeridianError } from '../../src/errors/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';

const run = promisify(execFile);

function has(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const tools = has('nebula') && has('nebula-cert');
if (!tools && process.env['CI'] === 'true') throw new Error('CI=true but nebula / nebula-cert are not installed (Debian package "nebula")');
const suite = tools ? describe : describe.skip;
if (!tools) console.warn('vpn.test.ts skipped: nebula / nebula-cert not installed (apt-get install nebula)');

const TOPOLOGY = `regions:
  - { name: us-east, location: { lat: 39, lon: -77 }, jurisdiction: US }
  - { name: eu-west, location: { lat: 53, lon: -6 }, jurisdiction: EU }
  - { name: ap-southeast, location: { lat: 1, lon: 103 }, jurisdiction: SG }
deploy:
  hosts: { us-east: 203.0.113.10, eu-west: 203.0.113.20, ap-southeast: 198.51.100.30 }
  nats: { serversPerRegion: { us-east: 3 } }
`;

function planContext(topology: Topology, outDir: string, local?: LocalPorts): PlanContext {
  const memo = new Map<string, unknown>();
  return {
    topology,
    inventory: inventory(topology, { local: local !== undefined }),
    outDir,
    ...(local === undefined ? {} : { local }),
    secrets: {
      get<T>(name: string, make: () => T): T {
        if (!memo.has(name)) memo.set(name, make());
        return memo.get(name) as T;
      },
    },
  };
}

function write(dir: string, files: readonly PlannedFile[]): void {
  for (const f of files) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.content, { mode: f.secret ? 0o600 : 0o644 });
  }
}

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'meridian-vpn-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

suite('vpn: Nebula mesh from the topology', () => {
  const topology = parseTopology(TOPOLOGY, 'm.yaml');

  it('writes a CA, a certificate, key and config per host; every config passes nebula -test', async () => {
    const out = tempDir();
    const ctx = planContext(topology, out);
    const files = await renderNebula(ctx, { pkiDir: join(out, 'vpn') });
    write(out, files);
    const hosts = ctx.inventory.hosts.map((h) => h.name);
    // 3 lighthouses, 5 NATS servers, 3 node hosts, ops-0 and edge-0.
    expect(hosts).toHaveLength(13);
    for (const h of hosts) {
      expect(files.find((f) => f.path === `vpn/${h}.key`)?.secret).toBe(true);
      expect(files.find((f) => f.path === `vpn/${h}.crt`)?.secret).toBeFalsy();
    }
    expect(files.find((f) => f.path === 'vpn/ca.key')?.secret).toBe(true);
    for (const h of hosts) {
      const r = await run('nebula', ['-test', '-config', join(out, 'vpn', `${h}.yml`)]).catch((err: Error & { stderr?: string }) => ({ stderr: err.stderr ?? err.message, failed: true }));
      expect(r, `nebula -test ${h}.yml: ${r.stderr}`).not.toHaveProperty('failed');
      await run('nebula-cert', ['verify', '-ca', join(out, 'vpn', 'ca.crt'), '-crt', join(out, 'vpn', `${h}.crt`)]);
    }
    const cert = JSON.parse((await run('nebula-cert', ['print', '-json', '-path', join(out, 'vpn', 'us-east-nats-2.crt')])).stdout) as { details: { ips: string[]; groups: string[]; name: string } };
    expect(cert.details).toMatchObject({ name: 'us-east-nats-2', ips: ['10.77.1.12/16'], groups: ['meridian', 'meridian-nats', 'region-us-east'] });
    for (const [name, ip, group] of [['ops-0', '10.77.0.10/16', 'meridian-ops'], ['edge-0', '10.77.0.20/16', 'meridian-edge']] as const) {
      const c = JSON.parse((await run('nebula-cert', ['print', '-json', '-path', join(out, 'vpn', `${name}.crt`)])).stdout) as { details: { ips: string[]; groups: string[]; name: string } };
      expect(c.details).toMatchObject({ name, ips: [ip], groups: ['meridian', group] });
    }
  });

  it('the production configs name /etc/nebula, every lighthouse and the firewall Meridian needs', async () => {
    const ctx = planContext(topology, tempDir());
    const files = await planVpn(ctx);
    interface Conf {
      pki: unknown;
      static_host_map: unknown;
      lighthouse: unknown;
      tun: unknown;
      firewall: { inbound_action: string; inbound: unknown[] };
    }
    const conf = (h: string): Conf => parse(String(files.find((f) => f.path === `vpn/${h}.yml`)!.content)) as Conf;
    const nats = conf('eu-west-nats-0');
    expect(nats['pki']).toEqual({ ca: '/etc/nebula/ca.crt', cert: '/etc/nebula/eu-west-nats-0.crt', key: '/etc/nebula/eu-west-nats-0.key' });
    expect(nats['static_host_map']).toEqual({ '10.77.1.1': ['203.0.113.10:4242'], '10.77.2.1': ['203.0.113.20:4242'], '10.77.3.1': ['198.51.100.30:4242'] });
    expect(nats['lighthouse']).toEqual({ am_lighthouse: false, interval: 60, hosts: ['10.77.1.1', '10.77.2.1', '10.77.3.1'] });
    expect(nats['firewall'].inbound_action).toBe('drop');
    expect(nats['firewall'].inbound).toEqual([
      { port: 'any', proto: 'icmp', groups: ['meridian'] },
      { port: 7222, proto: 'tcp', groups: ['meridian-nats'] },
      { port: 6222, proto: 'tcp', groups: ['meridian-nats', 'region-eu-west'] },
      { port: 4222, proto: 'tcp', groups: ['meridian-node', 'region-eu-west'] },
      // The doctor (ops hosts): TLS certificates on the client port, and the monitoring port.
      { port: 4222, proto: 'tcp', groups: ['meridian-ops'] },
      { port: 8222, proto: 'tcp', groups: ['meridian-ops'] },
    ]);
    expect(conf('eu-west-node-0')['firewall'].inbound).toEqual([
      { port: 'any', proto: 'icmp', groups: ['meridian'] },
      { port: 7702, proto: 'tcp', groups: ['meridian-node'] },
      { port: 7702, proto: 'tcp', groups: ['meridian-edge'] },
      { port: 7702, proto: 'tcp', groups: ['meridian-ops'] },
    ]);
    // The ops and edge hosts are on the mesh (every lighthouse, a tun device) and accept only ICMP.
    for (const h of ['ops-0', 'edge-0']) {
      expect(conf(h)['firewall'].inbound).toEqual([{ port: 'any', proto: 'icmp', groups: ['meridian'] }]);
      expect(conf(h)['lighthouse']).toEqual({ am_lighthouse: false, interval: 60, hosts: ['10.77.1.1', '10.77.2.1', '10.77.3.1'] });
      expect(conf(h)['tun']).toMatchObject({ disabled: false });
    }
    // The monitoring port is open to the ops group only, on every NATS host.
    for (const f of files.filter((x) => x.path.endsWith('.yml'))) {
      const monitor = (parse(String(f.content)) as Conf)['firewall'].inbound.filter((r) => (r as { port: unknown }).port === 8222);
      expect(monitor, f.path).toEqual(f.path.includes('-nats-') ? [{ port: 8222, proto: 'tcp', groups: ['meridian-ops'] }] : []);
    }
    const lh = conf('ap-southeast-lighthouse-0');
    expect(lh['lighthouse']).toMatchObject({ am_lighthouse: true, hosts: [] });
    expect(lh['tun']).toEqual({ disabled: true });
    // Deterministic apart from the key material.
    const again = await planVpn(planContext(topology, tempDir()));
    expect(again.filter((f) => f.path.endsWith('.yml'))).toEqual(files.filter((f) => f.path.endsWith('.yml')));
  });

  it('reuses the CA already in the output directory, so new host certificates join the running mesh', async () => {
    const out = tempDir();
    const first = await planVpn(planContext(topology, out));
    write(out, first.filter((f) => f.path === 'vpn/ca.crt' || f.path === 'vpn/ca.key'));
    const second = await planVpn(planContext(topology, out));
    const ca = (fs: PlannedFile[]): unknown => fs.find((f) => f.path === 'vpn/ca.crt')?.content;
    expect(ca(second)).toEqual(ca(first));
    expect(second.find((f) => f.path === 'vpn/us-east-node-0.crt')?.content).not.toEqual(first.find((f) => f.path === 'vpn/us-east-node-0.crt')?.content);
  });

  it('refuses to re-sign with a CA of an earlier plan that lacks a group the plan now uses, saying what to do', async () => {
    const out = tempDir();
    const old = parseTopology(`${TOPOLOGY}  vpn: { opsHosts: 0, edgeHosts: 0 }\n`, 'm.yaml');
    // An earlier plan's CA, limited to the groups of that time (no meridian-ops, meridian-edge).
    const dir = tempDir();
    await run('nebula-cert', ['ca', '-name', 'old', '-ips', '10.77.0.0/16', '-groups', 'meridian,meridian-lighthouse,meridian-nats,meridian-node,region-us-east,region-eu-west,region-ap-southeast', '-out-crt', join(dir, 'ca.crt'), '-out-key', join(dir, 'ca.key')]);
    mkdirSync(join(out, 'vpn'));
    execFileSync('cp', [join(dir, 'ca.crt'), join(dir, 'ca.key'), join(out, 'vpn')]);
    expect((await planVpn(planContext(old, out))).some((f) => f.path === 'vpn/us-east-node-0.crt')).toBe(true);
    const err: unknown = await Promise.resolve(planVpn(planContext(topology, out))).catch((e: unknown) => e);
    expect(isMeridianError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain('does not allow the groups meridian-ops, meridian-edge this plan signs: delete vpn/ca.crt and vpn/ca.key');
  });

  it('refuses a lighthouse without a public address, naming the place to set it', async () => {
    const t = parseTopology(TOPOLOGY.replace('us-east: 203.0.113.10, ', ''), 'm.yaml');
    const err: unknown = await Promise.resolve(planVpn(planContext(t, tempDir()))).catch((e: unknown) => e);
    expect(isMeridianError(err, 'TOPOLOGY_INVALID')).toBe(true);
    expect((err as { details: { problems: unknown[] } }).details.problems).toEqual([
      { path: ['deploy', 'hosts', 'us-east'], message: expect.stringContaining('the lighthouse us-east-lighthouse-0 needs a public address') as string },
    ]);
  });

  it('refuses bad addressing before running nebula-cert', async () => {
    const t = parseTopology(`${TOPOLOGY}  vpn:\n    pins: { eu-west-node-0: 10.77.1.100 }\n`, 'm.yaml');
    const err: unknown = await Promise.resolve(planVpn(planContext(t, tempDir()))).catch((e: unknown) => e);
    expect((err as { details: { problems: unknown[] } }).details.problems).toEqual([
      { path: ['deploy', 'vpn', 'pins', 'eu-west-node-0'], message: "10.77.1.100 is outside region eu-west's CIDR 10.77.2.0/24" },
    ]);
  });

  it('names the Debian package when nebula-cert is missing', async () => {
    const saved = process.env['MERIDIAN_NEBULA_CERT'];
    process.env['MERIDIAN_NEBULA_CERT'] = '/nonexistent/nebula-cert';
    try {
      const err: unknown = await Promise.resolve(planVpn(planContext(topology, tempDir()))).catch((e: unknown) => e);
      expect(isMeridianError(err, 'NOT_AVAILABLE')).toBe(true);
      expect((err as Error).message).toContain('install the Debian package "nebula"');
    } finally {
      if (saved === undefined) delete process.env['MERIDIAN_NEBULA_CERT'];
      else process.env['MERIDIAN_NEBULA_CERT'] = saved;
    }
  });

  it('plans nothing without a VPN and refuses WireGuard (not generated yet) rather than writing nothing silently', async () => {
    expect(await planVpn(planContext(parseTopology(`${TOPOLOGY}  vpn: { kind: none }\n`, 'm.yaml'), tempDir()))).toEqual([]);
    const err: unknown = await Promise.resolve(planVpn(planContext(parseTopology(`${TOPOLOGY}  vpn: { kind: wireguard }\n`, 'm.yaml'), tempDir()))).catch((e: unknown) => e);
    expect(isMeridianError(err, 'NOT_AVAILABLE')).toBe(true);
  });
});
