/**
 * `meridian plan` end to end through the CLI (in-process): the files it writes and their modes,
 * the README that lists them, what it prints (never a key), and the inputs it refuses with their
 * place in meridian.yaml.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.js';
import { PLAN_TARGETS, planDeployment, planSecrets } from '../../src/deploy/mod.js';
import { createCa, issueCert } from '../../src/deploy/tls/mod.js';
import { DEFAULT_TOPOLOGY_YAML, parseTopology } from '../../src/topology/mod.js';

const dir = mkdtempSync(join(tmpdir(), 'meridian-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

/** A topology file: the built-in default plus a `deploy:` section. */
function topology(deploy: string): string {
  const file = join(dir, `t${n++}.yaml`);
  writeFileSync(file, `${DEFAULT_TOPOLOGY_YAML}deploy:\n${deploy}`);
  return file;
}

/** `line:column` (1-based) of `value` on the first line containing `line`. */
function position(file: string, line: string, value = line): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(line));
  return `${i + 1}:${lines[i]!.indexOf(value, lines[i]!.indexOf(line)) + 1}`;
}

function walk(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

const SECRET = /SU[A-Z2-7]{56}|PRIVATE KEY/;

describe('meridian plan', () => {
  it('writes the NATS and Cloudflare parts with a README listing every file; secrets 0600 and never printed', async () => {
    const out = join(dir, 'out-ok');
    const r = await run(['plan', '--out', out, '--only', 'nats,cloudflare']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    expect(r.out + r.err).not.toMatch(SECRET);
    const files = walk(out).filter((f) => f !== '.meridian-plan');
    for (const f of ['README.md', 'cloudflare/load-balancer.json', 'tls/ca.pem', 'tls/ca-key.pem', 'nats/users/system.nk']) expect(files).toContain(f);
    for (const region of ['us-east', 'eu-west', 'ap-southeast']) {
      for (const f of [`nats/${region}-nats-0.conf`, `tls/${region}-nats-0.pem`, `tls/${region}-nats-0-key.pem`, `nats/users/${region}-node.nk`, `nodes/${region}.env`]) expect(files).toContain(f);
    }
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    for (const f of files) expect(readme, f).toContain(`| \`${f}\` |`);
    for (const f of files) {
      const secret = f.endsWith('.nk') || f.endsWith('-key.pem');
      expect(statSync(join(out, f)).mode & 0o777, f).toBe(secret ? 0o600 : 0o644);
      expect(readme.split('\n').find((l) => l.startsWith(`| \`${f}\``)), f).toContain(secret ? '**secret**' : '|  |');
      if (!secret) expect(readFileSync(join(out, f), 'utf8'), f).not.toMatch(SECRET);
      expect(r.out).toContain(`  ${f}${secret ? '  (secret, 0600)' : ''}\n`);
    }
    expect(readFileSync(join(out, 'nats/users/us-east-node.nk'), 'utf8')).toMatch(/^SU[A-Z2-7]{56}\n$/);
    const env = readFileSync(join(out, 'nodes/eu-west.env'), 'utf8');
    expect(env).toContain('MERIDIAN_NATS_URLS=tls://10.77.2.10:4222\n');
    expect(env).toContain('MERIDIAN_NATS_NKEY_FILE=/etc/meridian/nats/node.nk\n');
    expect(env).toContain('MERIDIAN_NATS_CA_FILE=/etc/meridian/tls/ca.pem\n');
    expect(JSON.parse(readFileSync(join(out, 'cloudflare/load-balancer.json'), 'utf8'))).toHaveProperty('pools');
  });

  // Every generator through the orchestrator. The VPN target runs the real nebula-cert.
  const hasNebulaCert = (process.env['PATH'] ?? '').split(':').some((d) => d !== '' && existsSync(join(d, 'nebula-cert'))) || process.env['MERIDIAN_NEBULA_CERT'] !== undefined;
  const fullIt = hasNebulaCert || process.env['CI'] === 'true' ? it : it.skip;
  if (!hasNebulaCert) console.warn('[meridian] skipping the all-targets plan test: nebula-cert not found (apt-get install nebula)');
  fullIt('plans every target at once: one README row per file, secrets 0600, no key in any other file or on stdout', async () => {
    const file = topology('  hosts: { us-east: 203.0.113.10, eu-west: 198.51.100.20, ap-southeast: 192.0.2.30 }\n');
    const out = join(dir, 'out-all');
    const r = await run(['plan', '--config', file, '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('nats, vpn, k8s, haproxy, cloudflare');
    expect(r.out).not.toContain('not planned');
    expect(r.out + r.err).not.toMatch(SECRET);
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    const files = walk(out).filter((f) => f !== '.meridian-plan');
    for (const dirName of ['nats/', 'tls/', 'nodes/', 'vpn/', 'k8s/', 'haproxy/', 'cloudflare/']) expect(files.some((f) => f.startsWith(dirName)), dirName).toBe(true);
    for (const f of files) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${f}\` |`));
      expect(row, f).toBeDefined();
      const mode = statSync(join(out, f)).mode & 0o777;
      if (row!.includes('**secret**')) expect(mode, f).toBe(0o600);
      else {
        expect(mode, f).toBe(0o644);
        expect(readFileSync(join(out, f), 'utf8'), f).not.toMatch(SECRET);
      }
    }
    // The mesh has an ops and an edge host, and the README says what to run there, on overlay addresses.
    for (const f of ['vpn/ops-0.crt', 'vpn/ops-0.key', 'vpn/ops-0.yml', 'vpn/edge-0.crt', 'vpn/edge-0.key', 'vpn/edge-0.yml']) expect(files).toContain(f);
    expect(readme).toContain('Run `meridian doctor` from an ops host, `ops-0` 10.77.0.10:');
    expect(readme).toContain(
      [
        'meridian doctor --config meridian.yaml --ca tls/ca.pem \\',
        '  --nats-monitor us-east=http://10.77.1.10:8222,eu-west=http://10.77.2.10:8222,ap-southeast=http://10.77.3.10:8222 \\',
        '  --nats us-east=tls://10.77.1.10:4222,eu-west=tls://10.77.2.10:4222,ap-southeast=tls://10.77.3.10:4222 \\',
        '  --regions us-east=http://10.77.1.100:7701,eu-west=http://10.77.2.100:7702,ap-southeast=http://10.77.3.100:7703',
      ].join('\n'),
    );
    expect(readme).toContain('The edge runs on an edge host, `edge-0` 10.77.0.20 (');
    expect(readme).toContain('meridian edge --config meridian.yaml --regions us-east=http://10.77.1.100:7701,eu-west=http://10.77.2.100:7702,ap-southeast=http://10.77.3.100:7703');
    expect(readFileSync(join(out, 'haproxy/haproxy.cfg'), 'utf8')).not.toContain('203.0.113.10');
  }, 60_000);

  // The README's promise, for every target: Kubernetes and haproxy files too, not only NATS.
  fullIt('plans every target twice: the same files except keys, certificates and the files listing NKEY public keys; with the same key material, byte for byte', async () => {
    const topology = parseTopology(`${DEFAULT_TOPOLOGY_YAML}deploy:\n  hosts: { us-east: 203.0.113.10, eu-west: 198.51.100.20, ap-southeast: nats.ap.example.com }\n  nats: { serversPerRegion: { us-east: 3 } }\n`, 'same.yaml');
    const outDir = join(dir, 'same-never-written');
    const a = await planDeployment(topology, { outDir });
    const b = await planDeployment(topology, { outDir });
    expect(a.targets).toEqual(PLAN_TARGETS);
    expect(b.files.map((f) => f.path)).toEqual(a.files.map((f) => f.path));
    const keyed = (f: { path: string; secret?: boolean }): boolean => f.secret === true || /\.(pem|crt)$/.test(f.path);
    const stripKeys = (s: string): string => s.replace(/nkey: "U[A-Z2-7]{55}"/g, 'nkey: "…"');
    const differing: string[] = [];
    for (const f of a.files) {
      const other = b.files.find((x) => x.path === f.path)!.content;
      if (keyed(f)) {
        expect(other, f.path).not.toEqual(f.content);
        continue;
      }
      if (String(other) === String(f.content)) continue;
      differing.push(f.path);
      expect(stripKeys(String(other)), f.path).toBe(stripKeys(String(f.content)));
    }
    // Only the files that list the NKEY users' public keys differ (the NATS configs, and the
    // Kubernetes NATS ConfigMaps); every target had files in the comparison.
    const regions = topology.regions.map((r) => r.name);
    expect(differing.sort()).toEqual([...a.inventory.hosts.filter((h) => h.role === 'nats').map((h) => `nats/${h.name}.conf`), ...regions.map((r) => `k8s/${r}/nats.yaml`)].sort());
    for (const prefix of ['nats/', 'nodes/', 'vpn/', 'k8s/', 'haproxy/', 'cloudflare/']) {
      expect(a.files.filter((f) => f.path.startsWith(prefix) && !keyed(f)).length, prefix).toBeGreaterThan(0);
    }
    for (const f of ['k8s/us-east/node.yaml', 'k8s/us-east/topology.yaml', 'k8s/namespace.yaml', 'haproxy/haproxy.cfg', 'haproxy/countries.map', 'vpn/us-east-nats-2.yml']) expect(differing, f).not.toContain(f);

    const secrets = planSecrets();
    const c = await planDeployment(topology, { outDir, secrets });
    const d = await planDeployment(topology, { outDir, secrets });
    expect(d.files).toEqual(c.files);
  }, 60_000);

  // Re-applying a re-planned deployment must not log out every client and worker, nor re-key the mesh.
  fullIt('planning every target again with --force keeps the Kubernetes tokens and the Nebula CA and host keys; host certificates are re-signed for the same keys', async () => {
    const exec = promisify(execFile);
    const file = topology('  hosts: { us-east: 203.0.113.10, eu-west: 198.51.100.20, ap-southeast: 192.0.2.30 }\n');
    const out = join(dir, 'again-all');
    expect((await run(['plan', '--config', file, '--out', out])).code).toBe(0);
    const read = (f: string): string => readFileSync(join(out, f), 'utf8');
    const before = Object.fromEntries(walk(out).map((f) => [f, read(f)]));
    const creds = (text: string): Record<string, string> =>
      (parseAllDocuments(text).map((d) => d.toJS() as { kind: string; metadata: { name: string }; stringData: Record<string, string> }).find((d) => d.kind === 'Secret' && d.metadata.name.endsWith('-credentials'))!).stringData;
    const pub = async (crt: string): Promise<string> => (JSON.parse((await exec('nebula-cert', ['print', '-json', '-path', join(out, crt)])).stdout) as { details: { publicKey: string } }).details.publicKey;
    const pubsBefore = new Map<string, string>();
    for (const f of walk(out).filter((x) => /^vpn\/.+\.crt$/.test(x) && x !== 'vpn/ca.crt')) pubsBefore.set(f, await pub(f));

    const again = await run(['plan', '--config', file, '--out', out, '--force']);
    expect(again.code, again.err).toBe(0);
    expect(again.out + again.err).not.toMatch(SECRET);
    const regions = ['us-east', 'eu-west', 'ap-southeast'];
    for (const r of regions) {
      const path = `k8s/${r}/secrets.yaml`;
      const [was, now] = [creds(before[path]!), creds(read(path))];
      for (const key of ['auth-secret', 'worker-token', 'admin-token', 'nats.nk', 'ca.pem']) expect(now[key], `${path} ${key}`).toBe(was[key]);
      expect(again.out).toContain(`  ${path}  (secret, 0600)  (auth secret, worker and admin tokens kept from the previous plan)\n`);
    }
    const keys = walk(out).filter((f) => /^vpn\/.+\.key$/.test(f));
    expect(keys).toHaveLength(1 + 3 * regions.length + 2); // the CA, lighthouse + NATS + node per region, ops-0, edge-0
    for (const f of [...keys, 'vpn/ca.crt']) {
      expect(read(f), f).toBe(before[f]);
      expect(again.out).toContain(`  ${f}${f.endsWith('.key') ? '  (secret, 0600)' : ''}  (kept from the previous plan)\n`);
    }
    // Each host certificate is signed again by the kept CA for the kept key, and Nebula accepts the
    // pair. (It may be byte-identical: Nebula certificates have no serial, Ed25519 signatures are
    // deterministic and their times have one-second resolution.)
    for (const [crt, was] of pubsBefore) {
      expect(await pub(crt), crt).toBe(was);
      await exec('nebula-cert', ['verify', '-ca', join(out, 'vpn/ca.crt'), '-crt', join(out, crt)]);
    }
    const conf = join(dir, 'again-node.yml');
    writeFileSync(conf, read('vpn/us-east-node-0.yml').replaceAll('/etc/nebula/', `${join(out, 'vpn')}/`).replace(/disabled: false/, 'disabled: true'));
    await exec('nebula', ['-test', '-config', conf]);

    // The regions' tokens must agree; a key file that is not a key is refused. Neither is echoed.
    writeFileSync(join(out, 'k8s/eu-west/secrets.yaml'), read('k8s/eu-west/secrets.yaml').replace(creds(read('k8s/eu-west/secrets.yaml'))['worker-token']!, 'edited-by-hand'));
    const split = await run(['plan', '--config', file, '--out', out, '--force']);
    expect(split.code).toBe(1);
    expect(split.err).toContain('hold different worker-token values');
    expect(split.err).not.toContain('edited-by-hand');
    rmSync(join(out, 'k8s/eu-west/secrets.yaml'));
    writeFileSync(join(out, 'vpn/eu-west-nats-0.key'), 'not a key\n');
    const broken = await run(['plan', '--config', file, '--out', out, '--force']);
    expect(broken.code).toBe(1);
    expect(broken.err).toContain(`${join(out, 'vpn/eu-west-nats-0.key')} does not hold a Nebula X25519 private key`);
    // Deleting a file rotates what it held.
    rmSync(join(out, 'vpn/eu-west-nats-0.key'));
    const rotated = await run(['plan', '--config', file, '--out', out, '--force']);
    expect(rotated.code, rotated.err).toBe(0);
    expect(await pub('vpn/eu-west-nats-0.crt')).not.toBe(pubsBefore.get('vpn/eu-west-nats-0.crt'));
    expect(creds(read('k8s/eu-west/secrets.yaml'))['worker-token']).toBe(creds(before['k8s/us-east/secrets.yaml']!)['worker-token']);
  }, 60_000);

  // The shipped topologies have no deploy.hosts: out of the box, plan what needs no public address
  // and say what to set for the mesh, rather than refuse the whole plan.
  it('plans the built-in topology and the examples with the default targets: every target but the VPN, skipped with located warnings saying what to set; --only vpn refuses', async () => {
    for (const config of [undefined, 'examples/meridian.yaml', 'examples/five-regions.yaml']) {
      const file = config ?? '<built-in default>';
      const out = join(dir, `defaults-${n++}`);
      const r = await run(['plan', ...(config === undefined ? [] : ['--config', config]), '--out', out]);
      expect(r.code, r.err).toBe(0);
      const regions = config?.includes('five') ? ['us-east', 'us-west', 'eu-west', 'ap-southeast', 'ap-northeast'] : ['us-east', 'eu-west', 'ap-southeast'];
      expect(r.out).toContain(`meridian plan: nats, k8s, haproxy, cloudflare for ${regions.length} regions`);
      expect(r.out).toContain(`  not planned: vpn: the Nebula lighthouses need public addresses: set deploy.hosts for ${regions.join(', ')} (or deploy.vpn.underlay.<lighthouse>)`);
      for (const region of regions) {
        expect(r.err).toMatch(new RegExp(`warning: ${file.replace(/[.<>]/g, '\\$&')}:\\d+:\\d+ deploy\\.hosts\\.${region}: vpn not planned: the lighthouse ${region}-lighthouse-0 needs a public address`));
      }
      expect(r.out + r.err).not.toMatch(SECRET);
      const files = walk(out);
      expect(files.filter((f) => f.startsWith('vpn/'))).toEqual([]);
      for (const dirName of ['nats/', 'tls/', 'nodes/', 'k8s/', 'haproxy/', 'cloudflare/']) expect(files.some((f) => f.startsWith(dirName)), dirName).toBe(true);
      const readme = readFileSync(join(out, 'README.md'), 'utf8');
      expect(readme).toContain('## Not planned\n\n- `vpn` (Nebula VPN mesh): the Nebula lighthouses need public addresses');
      expect(readme).not.toContain('- `vpn`: ');
    }
    const only = await run(['plan', '--config', 'examples/meridian.yaml', '--out', join(dir, 'only-vpn'), '--only', 'vpn']);
    expect(only.code).toBe(1);
    expect(only.err).toMatch(/examples\/meridian\.yaml:\d+:\d+ deploy\.hosts\.us-east: the lighthouse us-east-lighthouse-0 needs a public address/);
    expect(existsSync(join(dir, 'only-vpn'))).toBe(false);
  }, 60_000);

  it('refuses a non-empty --out unless --force, which replaces the previous plan and keeps foreign files', async () => {
    const out = join(dir, 'out-force');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const refused = await run(['plan', '--out', out, '--only', 'nats']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('is not empty');
    expect(refused.err).toContain('--force');
    expect(walk(out)).toEqual(['notes.txt']);
    expect((await run(['plan', '--out', out, '--only', 'nats', '--force'])).code).toBe(0);
    expect(existsSync(join(out, 'nats/us-east-nats-0.conf'))).toBe(true);
    const again = await run(['plan', '--out', out, '--only', 'cloudflare', '--force']);
    expect(again.code, again.err).toBe(0);
    expect(walk(out)).toEqual(['.meridian-plan', 'README.md', 'cloudflare/load-balancer.json', 'notes.txt']);
  });

  it('planning again with --force keeps the CA and the NKEY seeds, so configs are unchanged and new certificates chain to the same CA', async () => {
    const out = join(dir, 'out-again');
    expect((await run(['plan', '--out', out, '--only', 'nats'])).code).toBe(0);
    const before = Object.fromEntries(walk(out).map((f) => [f, readFileSync(join(out, f), 'utf8')]));
    const again = await run(['plan', '--out', out, '--only', 'nats', '--force']);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('tls/ca-key.pem  (secret, 0600)  (kept from the previous plan)');
    expect(again.out).not.toMatch(SECRET);
    for (const f of ['tls/ca.pem', 'tls/ca-key.pem', 'nats/users/us-east-node.nk', 'nats/users/system.nk', 'nats/us-east-nats-0.conf', 'nodes/us-east.env', 'README.md']) {
      expect(readFileSync(join(out, f), 'utf8'), f).toBe(before[f]);
    }
    const cert = readFileSync(join(out, 'tls/us-east-nats-0.pem'), 'utf8');
    expect(cert).not.toBe(before['tls/us-east-nats-0.pem']);
    expect(new X509Certificate(cert).verify(new X509Certificate(before['tls/ca.pem']!).publicKey)).toBe(true);

    writeFileSync(join(out, 'nats/users/system.nk'), 'not a seed\n');
    const broken = await run(['plan', '--out', out, '--only', 'nats', '--force']);
    expect(broken.code).toBe(1);
    expect(broken.err).toContain('system.nk does not hold an NKEY user seed');
  });

  it('refuses an even total of NATS servers at deploy.nats.serversPerRegion, and accepts it with allowEvenServers and a warning', async () => {
    const file = topology('  nats:\n    serversPerRegion: 2\n');
    const r = await run(['plan', '--config', file, '--out', join(dir, 'even'), '--only', 'nats']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${file}:${position(file, 'serversPerRegion: 2', '2')} deploy.nats.serversPerRegion: 6 NATS servers in all`);
    expect(r.err).toContain('allowEvenServers');
    expect(existsSync(join(dir, 'even'))).toBe(false);
    // The Kubernetes target runs the same servers in pods: the same quorum rule.
    const k8s = await run(['plan', '--config', file, '--out', join(dir, 'even-k8s'), '--only', 'k8s']);
    expect(k8s.code).toBe(1);
    expect(k8s.err).toContain(`${file}:${position(file, 'serversPerRegion: 2', '2')} deploy.nats.serversPerRegion: 6 NATS servers in all`);

    const ok = topology('  nats:\n    serversPerRegion: { us-east: 2 }\n    allowEvenServers: true\n');
    const w = await run(['plan', '--config', ok, '--out', join(dir, 'even-ok'), '--only', 'nats']);
    expect(w.code, w.err).toBe(0);
    expect(w.err).toContain(`warning: ${ok}:${position(ok, '{ us-east')} deploy.nats.serversPerRegion: 4 NATS servers`);
    const conf = readFileSync(join(dir, 'even-ok', 'nats/us-east-nats-1.conf'), 'utf8');
    expect(conf).toContain('routes: ["tls://10.77.1.10:6222", "tls://10.77.1.11:6222"]');
    expect(readFileSync(join(dir, 'even-ok', 'nodes/us-east.env'), 'utf8')).toContain('MERIDIAN_NATS_URLS=tls://10.77.1.10:4222,tls://10.77.1.11:4222\n');
    expect(readFileSync(join(dir, 'even-ok', 'README.md'), 'utf8')).toContain('## Warnings');
  });

  it('refuses colliding ports, servers sharing an address and unknown regions, each located', async () => {
    const ports = topology('  nats:\n    ports: { client: 4222, cluster: 4222, gateway: 8222 }\n');
    const p = await run(['plan', '--config', ports, '--out', join(dir, 'ports'), '--only', 'nats']);
    expect(p.code).toBe(1);
    expect(p.err).toContain(`${ports}:${position(ports, 'cluster: 4222', '4222, gateway')} deploy.nats.ports.cluster: port 4222 is also the client port`);
    expect(p.err).toContain('deploy.nats.ports.monitor: port 8222 is also the gateway port');

    const shared = topology('  hosts: { us-east: nats.example.com }\n  vpn: { kind: none }\n  nats:\n    serversPerRegion: { us-east: 3 }\n');
    const s = await run(['plan', '--config', shared, '--out', join(dir, 'shared'), '--only', 'nats']);
    expect(s.code).toBe(1);
    expect(s.err).toContain(`${shared}:${position(shared, 'nats.example.com')} deploy.hosts.us-east: NATS servers us-east-nats-0 and us-east-nats-1 would share address nats.example.com`);

    const node = topology('  hosts: { eu-west: 203.0.113.7 }\n  vpn: { kind: none }\n  nats:\n    ports: { monitor: 7702 }\n');
    const o = await run(['plan', '--config', node, '--out', join(dir, 'node-port'), '--only', 'nats']);
    expect(o.code).toBe(1);
    expect(o.err).toContain(`${node}:${position(node, 'monitor: 7702', '7702')} deploy.nats.ports.monitor: port 7702 is the eu-west region node's port, on the same address (203.0.113.7)`);

    const unknown = topology('  nats:\n    serversPerRegion: { mars: 1 }\n');
    const u = await run(['plan', '--config', unknown, '--out', join(dir, 'unknown'), '--only', 'nats']);
    expect(u.code).toBe(1);
    expect(u.err).toContain('deploy.nats.serversPerRegion.mars: unknown region "mars"');
  });

  it('uses operator-provided TLS files (paths relative to the topology), and refuses unreadable ones where they are named', async () => {
    const ca = await createCa('Operator CA');
    const cert = await issueCert(ca, { commonName: '*.internal', names: ['*.internal'] });
    mkdirSync(join(dir, 'pki'));
    writeFileSync(join(dir, 'pki', 'ca.pem'), ca.certPem);
    writeFileSync(join(dir, 'pki', 'server.pem'), cert.certPem);
    writeFileSync(join(dir, 'pki', 'server-key.pem'), cert.keyPem);
    const file = topology('  nats:\n    tls: { ca: pki/ca.pem, cert: pki/server.pem, key: pki/server-key.pem }\n');
    const out = join(dir, 'own-tls');
    const r = await run(['plan', '--config', file, '--out', out, '--only', 'nats']);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(out, 'tls/ca.pem'), 'utf8')).toBe(ca.certPem);
    expect(readFileSync(join(out, 'tls/eu-west-nats-0.pem'), 'utf8')).toBe(cert.certPem);
    expect(statSync(join(out, 'tls/eu-west-nats-0-key.pem')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(out, 'tls/ca-key.pem'))).toBe(false);
    // The operator's certificate names *.internal, not the servers' overlay IPs: said, not refused.
    expect(r.err).toContain(`warning: ${file}:${position(file, 'cert: pki/server.pem', 'pki/server.pem')} deploy.nats.tls.cert: the certificate does not name 10.77.1.10, 10.77.2.10, 10.77.3.10`);
    expect(r.out).not.toMatch(SECRET);

    const missing = topology('  nats:\n    tls: { ca: pki/nope.pem, cert: pki/server.pem, key: pki/server-key.pem }\n');
    const m = await run(['plan', '--config', missing, '--out', join(dir, 'own-tls-missing'), '--only', 'nats']);
    expect(m.code).toBe(1);
    expect(m.err).toContain(`${missing}:${position(missing, 'pki/nope.pem')} deploy.nats.tls.ca: cannot read`);
  });

  it('--local puts every listener on its own port of 127.0.0.1 and every path inside the output', async () => {
    const out = join(dir, 'local');
    const r = await run(['plan', '--out', out, '--only', 'nats', '--local']);
    expect(r.code, r.err).toBe(0);
    const ports = JSON.parse(readFileSync(join(out, 'local/ports.json'), 'utf8')) as Record<string, Record<string, number>>;
    const all = Object.values(ports).flatMap((h) => Object.values(h));
    expect(all).toHaveLength(12);
    expect(new Set(all).size).toBe(12);
    const conf = readFileSync(join(out, 'nats/us-east-nats-0.conf'), 'utf8');
    expect(conf).toContain(`listen: "127.0.0.1:${ports['us-east-nats-0']!['nats-client']}"`);
    expect(conf).toContain(`cert_file: "${join(out, 'tls')}/us-east-nats-0.pem"`);
    expect(conf).not.toContain('/etc/');
    expect(readFileSync(join(out, 'nodes/us-east.env'), 'utf8')).toContain(`MERIDIAN_NATS_NKEY_FILE=${join(out, 'nats/users/us-east-node.nk')}`);
  });

  it('refuses bad arguments with exit 2', async () => {
    expect((await run(['plan'])).err).toContain('--out DIR is required');
    const bad = await run(['plan', '--out', join(dir, 'x'), '--only', 'nats,dns']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown plan target "dns"');
    expect((await run(['plan', '--help'])).out).toContain('--local');
  });

  it('meridian region refuses an --nats-nkey file that holds no user seed, without echoing it', async () => {
    const file = join(dir, 'not-a-seed.nk');
    writeFileSync(file, 'SAAGNJOZTRPYBXCVSZWZGDQHCMW3OYSHJFCZCODRZYHJQ2MIBFUHUVHTNY\n'); // an account seed, not a user's
    const r = await run(['region', 'us-east', '--bus', 'nats', '--nats', 'tls://127.0.0.1:1', '--nats-nkey', file, '--dev', '--port', '0', '--data', join(dir, 'd')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file} does not hold an NKEY user seed`);
    expect(r.out + r.err).not.toContain('SAAGNJ');
  });
});
