/**
 * The VPN lab: three network namespaces (one per region) on a private underlay (10.231.0.0/24,
 * veths into a bridge in a fourth namespace; nothing is created in the host's namespace), Nebula
 * started from the generated configs and certificates (a lighthouse and the NATS host per
 * region), one nats-server per namespace whose gateways dial the other regions' overlay IPs, and
 * a message published in one region crossing to a subscriber in another. The nats-servers run
 * the NATS generator's configs for this topology (TLS, NKEY users, gateways on overlay IPs).
 * Three more namespaces hold us-east's node host (a stand-in HTTP server on the node port), the
 * ops host and the edge host, each with its generated Nebula config: the ops host runs
 * `meridian doctor` with the plan README's own command line, and the firewall opens exactly what
 * each group needs (ops: NATS monitoring and client ports, the node port; edge: the node port).
 *
 * Needs two kinds of things:
 * - tools (nebula, nebula-cert, ip, nats-server), which `.ci/run` installs from Debian: missing,
 *   the lab is skipped with the reason, except with CI=true, where that is a failure;
 * - what the machine allows (root, /dev/net/tun, creating network namespaces), which no install
 *   fixes: missing, the lab is skipped with the reason (in the suite's name, so the summary of
 *   `.ci/run` lists it), as the issue says, CI or not; with MERIDIAN_REQUIRE_VPN_LAB=1 (a CI
 *   known to allow them) that is a failure too.
 * Where it can run (CI here runs as root with namespaces and tun), it runs and a real problem
 * fails it. Names are unique per run; namespaces and processes are removed in afterAll whatever
 * happened.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventory } from '../../src/deploy/inventory.js';
import type { PlanContext } from '../../src/deploy/types.js';
import { planNats, SERVER_STORE_DIR, SERVER_TLS_DIR } from '../../src/deploy/nats/mod.js';
import { operateReadme } from '../../src/deploy/plan.js';
import { renderNebula } from '../../src/deploy/vpn/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';

const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));

/** A tool `.ci/run` installs (Debian package in the message), or undefined when all are there. */
function missingTool(): string | undefined {
  if (NATS_SERVER === undefined) return 'nats-server is not installed (apt-get install nats-server)';
  for (const [bin, pkg] of [['nebula', 'nebula'], ['nebula-cert', 'nebula'], ['ip', 'iproute2']] as const) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `${bin} is not installed (apt-get install ${pkg})`;
    }
  }
  return undefined;
}

/** What this machine does not allow (root, a tun device, network namespaces), or undefined. */
function missingCapability(uid = process.getuid?.(), tun = existsSync('/dev/net/tun')): string | undefined {
  if (uid !== 0) return 'needs root to create network namespaces and tun devices';
  if (!tun) return 'this machine has no /dev/net/tun';
  const probe = `mprobe${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const why = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n')[0];
    return `cannot create network namespaces here${why ? ` (${why})` : ''}`;
  }
  execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  return undefined;
}

/**
 * Why the lab does not run (undefined: it runs), or throws where skipping is not allowed: a missing
 * tool under CI=true, anything missing under MERIDIAN_REQUIRE_VPN_LAB=1.
 */
function labSkipReason(env: NodeJS.ProcessEnv, tool: () => string | undefined, capability: () => string | undefined): string | undefined {
  const t = tool();
  if (t !== undefined && (env['CI'] === 'true' || env['MERIDIAN_REQUIRE_VPN_LAB'] === '1')) throw new Error(`the VPN lab needs a tool that .ci/run installs: ${t}`);
  if (t !== undefined) return t;
  const c = capability();
  if (c !== undefined && env['MERIDIAN_REQUIRE_VPN_LAB'] === '1') throw new Error(`MERIDIAN_REQUIRE_VPN_LAB=1 but the VPN lab cannot run: ${c}`);
  return c;
}

// Tools first: with ip missing, the namespace probe could not tell anything.
const reason = labSkipReason(process.env, missingTool, () => missingCapability());
if (reason !== undefined) console.warn(`vpn-lab.test.ts skipped: ${reason}`);

describe('vpn lab: when it runs', () => {
  const env = (e: Record<string, string>): NodeJS.ProcessEnv => e;
  const none = (): undefined => undefined;
  it('under CI, a missing tool fails; a missing capability skips with its reason, unless MERIDIAN_REQUIRE_VPN_LAB=1', () => {
    expect(() => labSkipReason(env({ CI: 'true' }), () => 'nebula is not installed', none)).toThrow(/nebula is not installed/);
    expect(labSkipReason(env({}), () => 'nebula is not installed', none)).toBe('nebula is not installed');
    expect(labSkipReason(env({ CI: 'true' }), none, () => 'needs root')).toBe('needs root');
    expect(() => labSkipReason(env({ CI: 'true', MERIDIAN_REQUIRE_VPN_LAB: '1' }), none, () => 'needs root')).toThrow(/MERIDIAN_REQUIRE_VPN_LAB=1 .*needs root/);
    expect(labSkipReason(env({ CI: 'true' }), none, none)).toBeUndefined();
    expect(missingCapability(1000, true)).toBe('needs root to create network namespaces and tun devices');
    expect(missingCapability(0, false)).toBe('this machine has no /dev/net/tun');
  });
});

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
/** Hosts in a namespace of their own (each non-lighthouse Nebula needs its own tun device name space). */
const EXTRA = ['us-east-node-0', 'ops-0', 'edge-0'] as const;
const underlay = (i: number): string => `10.231.0.${i + 1}`;

const LAB_YAML = `regions:
  - { name: us-east, location: { lat: 39, lon: -77 }, jurisdiction: US }
  - { name: eu-west, location: { lat: 53, lon: -6 }, jurisdiction: EU }
  - { name: ap-southeast, location: { lat: 1, lon: 103 }, jurisdiction: SG }
deploy:
  vpn:
    cidr: 10.77.0.0/16
    underlay:
${REGIONS.flatMap((r, i) => [`      ${r}-lighthouse-0: "${underlay(i)}:4242"`, `      ${r}-nats-0: "${underlay(i)}:4243"`]).join('\n')}
`;

function labTopology(): Topology {
  return parseTopology(LAB_YAML, 'lab.yaml');
}

function sh(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function until(check: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(reason !== undefined)(`vpn lab: NATS gateways over the generated Nebula mesh${reason === undefined ? '' : ` (skipped: ${reason})`}`, () => {
  const run = randomBytes(2).toString('hex');
  const hub = `mlab${run}h`;
  const ns = REGIONS.map((_, i) => `mlab${run}${i}`);
  const extraNs = EXTRA.map((_, i) => `mlab${run}x${i}`);
  const nsOf = (host: (typeof EXTRA)[number]): string => extraNs[EXTRA.indexOf(host)]!;
  const dir = mkdtempSync(join(tmpdir(), 'meridian-vpn-lab-'));
  const procs: { name: string; child: ChildProcess; log: () => string }[] = [];
  const created: string[] = [];
  let ctx: PlanContext;
  const overlayOf = (host: string): string => ctx.inventory.hosts.find((h) => h.name === host)!.overlayIp;

  const start = (name: string, netns: string, cmd: string[]): { child: ChildProcess; log: () => string } => {
    const child = spawn('ip', ['netns', 'exec', netns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
    let log = '';
    child.stdout.on('data', (b: Buffer) => (log += b.toString()));
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const p = { name, child, log: () => log };
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    for (const n of [hub, ...ns, ...extraNs]) {
      sh(['ip', 'netns', 'add', n]);
      created.push(n);
      sh(['ip', '-n', n, 'link', 'set', 'lo', 'up']);
    }
    sh(['ip', '-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', hub, 'link', 'set', 'br0', 'up']);
    [...ns, ...extraNs].forEach((n, i) => {
      // Both ends are created inside our namespaces: nothing appears in the host's.
      sh(['ip', '-n', n, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${i}`, 'netns', hub]);
      sh(['ip', '-n', hub, 'link', 'set', `v${i}`, 'master', 'br0', 'up']);
      sh(['ip', '-n', n, 'addr', 'add', `${underlay(i)}/24`, 'dev', 'eth0']);
      sh(['ip', '-n', n, 'link', 'set', 'eth0', 'up']);
    });

    const topology = labTopology();
    const memo = new Map<string, unknown>();
    ctx = { topology, inventory: inventory(topology), outDir: dir, secrets: { get: <T>(k: string, make: () => T): T => (memo.has(k) ? memo.get(k) : (memo.set(k, make()), memo.get(k))) as T } };
    const files = await renderNebula(ctx, { pkiDir: join(dir, 'vpn') });
    for (const f of files) {
      mkdirSync(dirname(join(dir, f.path)), { recursive: true });
      writeFileSync(join(dir, f.path), f.content, { mode: f.secret ? 0o600 : 0o644 });
    }
    REGIONS.forEach((r, i) => {
      start(`${r} lighthouse`, ns[i]!, ['nebula', '-config', join(dir, 'vpn', `${r}-lighthouse-0.yml`)]);
      start(`${r} nebula`, ns[i]!, ['nebula', '-config', join(dir, 'vpn', `${r}-nats-0.yml`)]);
    });
    for (const h of EXTRA) start(`${h} nebula`, nsOf(h), ['nebula', '-config', join(dir, 'vpn', `${h}.yml`)]);
    const overlay = (r: string): string => overlayOf(`${r}-nats-0`);
    // Each NATS host's tun device is up with its overlay address.
    for (const [i, r] of REGIONS.entries()) {
      const ip = ctx.inventory.hosts.find((h) => h.name === `${r}-nats-0`)!.overlayIp;
      await until(() => {
        try {
          return sh(['ip', '-n', ns[i]!, '-4', 'addr', 'show', 'dev', 'nebula1']).includes(`inet ${ip}/16`);
        } catch {
          return false;
        }
      }, `nebula1 with ${ip} in ${ns[i]} (${procs.map((p) => `${p.name}: ${p.log().slice(-300)}`).join('\n')})`, 15_000);
    }
    for (const h of EXTRA) {
      const ip = overlayOf(h);
      await until(() => {
        try {
          return sh(['ip', '-n', nsOf(h), '-4', 'addr', 'show', 'dev', 'nebula1']).includes(`inet ${ip}/16`);
        } catch {
          return false;
        }
      }, `nebula1 with ${ip} in ${nsOf(h)} (${procs.map((p) => `${p.name}: ${p.log().slice(-300)}`).join('\n')})`, 15_000);
    }
    // us-east's node: a stand-in answering on the node port of its overlay IP.
    const node = start('us-east node', nsOf('us-east-node-0'), [
      process.execPath, '-e',
      `require('node:http').createServer((q, s) => s.end('node ' + q.url)).listen(7701, '${overlayOf('us-east-node-0')}', () => console.log('listening'))`,
    ]);
    await until(() => node.log().includes('listening'), `the stand-in node (${node.log()})`, 10_000);

    // One nats-server per namespace, from the NATS generator's own configs (TLS, NKEY users,
    // listeners bound to the overlay IP, gateway URLs on the other regions' overlay IPs); only
    // the certificate and store directories are moved into the temp dir.
    const nats = await planNats(ctx);
    for (const f of nats) {
      mkdirSync(dirname(join(dir, f.path)), { recursive: true });
      writeFileSync(join(dir, f.path), f.content, { mode: f.secret ? 0o600 : 0o644 });
    }
    REGIONS.forEach((r, i) => {
      const conf = join(dir, 'nats', `${r}-nats-0.conf`);
      const text = String(nats.find((f) => f.path === `nats/${r}-nats-0.conf`)!.content);
      expect(text).toContain(`"tls://${overlay(REGIONS[(i + 1) % 3]!)}:7222"`);
      writeFileSync(conf, text.replaceAll(SERVER_TLS_DIR, join(dir, 'tls')).replaceAll(SERVER_STORE_DIR, join(dir, `js-${r}`)));
      start(`${r} nats`, ns[i]!, [NATS_SERVER!, '-c', conf]);
    });
    await until(() => procs.filter((p) => p.name.endsWith('nats')).every((p) => p.log().includes('Server is ready')), `nats-servers ready (${procs.filter((p) => p.name.endsWith('nats')).map((p) => p.log().slice(-400)).join('\n')})`, 20_000);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const n of created.reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each region\'s NATS host its planned overlay IP, reachable across namespaces only through Nebula', () => {
    // The underlay has no route to the overlay: the only way there is the nebula1 tun device.
    const route = sh(['ip', '-n', ns[0]!, 'route', 'get', ctx.inventory.hosts.find((h) => h.name === 'ap-southeast-nats-0')!.overlayIp]);
    expect(route).toContain('dev nebula1');
  });

  // A region node's connection: TLS to its region's server on the overlay IP, its NKEY seed.
  // `host`: nats.js upgrades the socket to TLS without a servername for an IP address, so Node
  // would check the certificate against "localhost"; naming the IP checks it against the IP SAN.
  const clientOptions = (r: string): string => {
    const ip = ctx.inventory.hosts.find((h) => h.name === `${r}-nats-0`)!.overlayIp;
    return `{ servers: 'tls://${ip}:4222', tls: { caFile: ${JSON.stringify(join(dir, 'tls', 'ca.pem'))}, host: '${ip}' }, ` +
    `authenticator: nkeyAuthenticator(new TextEncoder().encode(readFileSync(${JSON.stringify(join(dir, 'nats', 'users', `${r}-node.nk`))}, 'utf8').trim())) }`;
  };

  it('carries a message published in ap-southeast to a subscriber in us-east over gateways on overlay IPs', async () => {
    const sub = start('subscriber', ns[0]!, [
      process.execPath, '--input-type=module', '-e',
      `import { readFileSync } from 'node:fs';
       import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
       const nc = await connect(${clientOptions('us-east')});
       const sub = nc.subscribe('lab.hello', { max: 1 });
       console.log('subscribed');
       for await (const m of sub) console.log('got ' + m.string());
       await nc.close();`,
    ]);
    await until(() => sub.log().includes('subscribed') || sub.child.exitCode !== null, 'the subscriber', 15_000);
    // Publish until the subscriber has it: gateway interest takes a moment to propagate.
    const pub = start('publisher', ns[2]!, [
      process.execPath, '--input-type=module', '-e',
      `import { readFileSync } from 'node:fs';
       import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
       const nc = await connect(${clientOptions('ap-southeast')});
       for (let i = 0; i < 100; i++) { nc.publish('lab.hello', 'from ap-southeast #' + i); await nc.flush(); await new Promise((r) => setTimeout(r, 200)); }
       await nc.close();`,
    ]);
    await until(() => sub.log().includes('got from ap-southeast') || sub.child.exitCode !== null, `the message in us-east (${sub.log()} / ${pub.log()})`, 25_000);
    expect(sub.log()).toMatch(/got from ap-southeast #\d+/);
    // It came through the gateway of us-east's server, which only listens on its overlay IP.
    const gw = procs.find((p) => p.name === 'us-east nats')!.log();
    expect(gw).toMatch(/Gateway connection to "ap-southeast"|Inbound gateway connection from "ap-southeast"|Outbound gateway connection to "ap-southeast"/);
  }, 45_000);
  /** From namespace `netns`: 'open' if a TCP connection to ip:port is accepted within 3 s, else 'closed' (Nebula drops it). */
  const probe = async (netns: string, ip: string, port: number): Promise<string> => {
    const p = start(`probe ${netns} ${ip}:${port}`, netns, [
      process.execPath, '-e',
      `const s = require('node:net').connect(${port}, '${ip}'); s.setTimeout(3000);
       s.on('connect', () => { console.log('open'); s.destroy(); }); s.on('timeout', () => { console.log('closed'); s.destroy(); }); s.on('error', (e) => console.log('error ' + e.code));`,
    ]);
    await until(() => p.child.exitCode !== null, `the probe of ${ip}:${port}`, 10_000);
    return p.log().trim();
  };

  it('opens the NATS monitoring and client ports and the node port to the ops host, only the node port to the edge host', async () => {
    const pairs: [string, string, number][] = [
      ...REGIONS.flatMap((r): [string, string, number][] => [['ops', `${r}-nats-0`, 8222], ['ops', `${r}-nats-0`, 4222], ['edge', `${r}-nats-0`, 8222], ['edge', `${r}-nats-0`, 4222]]),
      ['ops', 'us-east-node-0', 7701],
      ['edge', 'us-east-node-0', 7701],
      // A region node reaches its own region's client port, not another's, nor any monitoring port.
      ['node', 'us-east-nats-0', 4222],
      ['node', 'eu-west-nats-0', 4222],
      ['node', 'us-east-nats-0', 8222],
    ];
    const from = (who: string): string => (who === 'ops' ? nsOf('ops-0') : who === 'edge' ? nsOf('edge-0') : nsOf('us-east-node-0'));
    const results = await Promise.all(pairs.map(([who, host, port]) => probe(from(who), overlayOf(host), port)));
    const seen = Object.fromEntries(pairs.map(([who, host, port], i) => [`${who} → ${host}:${port}`, results[i]]));
    expect(seen).toEqual({
      'ops → us-east-nats-0:8222': 'open',
      'ops → us-east-nats-0:4222': 'open',
      'edge → us-east-nats-0:8222': 'closed',
      'edge → us-east-nats-0:4222': 'closed',
      'ops → eu-west-nats-0:8222': 'open',
      'ops → eu-west-nats-0:4222': 'open',
      'edge → eu-west-nats-0:8222': 'closed',
      'edge → eu-west-nats-0:4222': 'closed',
      'ops → ap-southeast-nats-0:8222': 'open',
      'ops → ap-southeast-nats-0:4222': 'open',
      'edge → ap-southeast-nats-0:8222': 'closed',
      'edge → ap-southeast-nats-0:4222': 'closed',
      'ops → us-east-node-0:7701': 'open',
      'edge → us-east-node-0:7701': 'open',
      'node → us-east-nats-0:4222': 'open',
      'node → eu-west-nats-0:4222': 'closed',
      'node → us-east-nats-0:8222': 'closed',
    });
  }, 90_000);

  it('runs meridian doctor from the ops host with the plan README\'s command line: every NATS check passes over the overlay', async () => {
    // The README's line, with the topology and CA of this lab; --regions left out (one stand-in node only).
    const block = /```sh\n(meridian doctor [^`]*?)\n```/.exec(operateReadme(ctx))![1]!;
    const args = block.replace(/\\\n\s*/g, ' ').split(/\s+/).slice(2);
    const flag = (name: string): string => args[args.indexOf(name) + 1]!;
    expect(flag('--nats-monitor')).toBe('us-east=http://10.77.1.10:8222,eu-west=http://10.77.2.10:8222,ap-southeast=http://10.77.3.10:8222');
    expect(flag('--regions')).toBe('us-east=http://10.77.1.100:7701,eu-west=http://10.77.2.100:7702,ap-southeast=http://10.77.3.100:7703');
    writeFileSync(join(dir, 'meridian.yaml'), LAB_YAML);
    type Report = { checks: { check: string; subject: string; verdict: string; detail: string }[] };
    const runDoctor = async (n: number): Promise<Report> => {
      const doctor = start(`doctor-${n}`, nsOf('ops-0'), [
        process.execPath, '--import', 'tsx', 'src/cli/entry.ts', 'doctor', '--config', join(dir, 'meridian.yaml'), '--ca', join(dir, 'tls', 'ca.pem'),
        '--nats-monitor', flag('--nats-monitor'), '--nats', flag('--nats'), '--json',
      ]);
      await until(() => doctor.child.exitCode !== null, `the doctor (${doctor.log()})`, 60_000);
      return JSON.parse(doctor.log().slice(doctor.log().indexOf('{'))) as Report;
    };
    // A super-cluster started moments ago may not have elected its JetStream meta leader yet (the
    // doctor rightly says FAIL then): ask again, a few seconds apart, until the group has one.
    let report = await runDoctor(0);
    const metaOk = (r: Report): boolean => r.checks.some((c) => c.check === 'meta leader' && c.verdict === 'ok');
    for (let n = 1; n < 6 && !metaOk(report); n++) {
      await new Promise((r) => setTimeout(r, 3000));
      report = await runDoctor(n);
    }
    const lines = (check: string): string[] => report.checks.filter((c) => c.check === check).map((c) => `${c.subject}: ${c.verdict}`);
    expect(lines('nats server')).toEqual(['us-east-nats-0: ok', 'eu-west-nats-0: ok', 'ap-southeast-nats-0: ok']);
    expect(lines('gateway')).toHaveLength(6);
    expect(lines('gateway').every((l) => l.endsWith(': ok')), lines('gateway').join('; ')).toBe(true);
    expect(lines('meta leader')).toEqual(['meta group: ok']);
    expect(lines('tls cert')).toEqual(['NATS client us-east 10.77.1.10:4222: ok', 'NATS client eu-west 10.77.2.10:4222: ok', 'NATS client ap-southeast 10.77.3.10:4222: ok']);
  }, 90_000);
});
