/**
 * The NATS configs `meridian plan` writes for the example topologies (deployed mode, not --local),
 * checked by the real `nats-server -t`, and the determinism promise: the same topology planned
 * twice gives the same files except keys and what embeds them.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { planDeployment, planSecrets, writePlanFiles } from '../../src/deploy/mod.js';
import type { Plan } from '../../src/deploy/mod.js';
import { SERVER_TLS_DIR } from '../../src/deploy/nats/mod.js';
import { DEFAULT_TOPOLOGY_YAML, loadTopology, parseTopology } from '../../src/topology/mod.js';
import { describeWithNats, natsServerPath } from '../bus/nats-env.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'meridian-plan-nats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = (plan: Plan, path: string): string => {
  const f = plan.files.find((x) => x.path === path);
  if (f === undefined) throw new Error(`no ${path} in the plan`);
  return String(f.content);
};

describeWithNats('meridian plan: NATS configs', () => {
  const NO_VPN = `${DEFAULT_TOPOLOGY_YAML}deploy:\n  vpn: { kind: none }\n  hosts: { us-east: nats.us.example.com, eu-west: 203.0.113.7 }\n`;
  for (const example of ['examples/meridian.yaml', 'examples/five-regions.yaml', 'no VPN, public addresses']) {
    it(`nats-server -t accepts every generated config of ${example}`, async () => {
      const topology = example.endsWith('.yaml') ? await loadTopology(example) : parseTopology(NO_VPN);
      const out = join(dir, example.replace(/\W/g, '-'));
      const plan = await planDeployment(topology, { outDir: out, only: ['nats'] });
      await writePlanFiles(out, plan.files);
      const confs = plan.files.filter((f) => /^nats\/[^/]+\.conf$/.test(f.path));
      expect(confs.map((f) => f.path)).toEqual(topology.regions.map((r) => `nats/${r.name}-nats-0.conf`).sort());
      // Deployed configs name the certificates where the README says to install them; point that
      // one directory at the generated files so -t loads the real certificates and keys.
      const checkDir = join(out, 'check');
      await mkdir(checkDir, { recursive: true });
      for (const f of confs) {
        const conf = String(f.content);
        expect(conf).toContain(`"${SERVER_TLS_DIR}/`);
        const file = join(checkDir, f.path.slice('nats/'.length));
        await writeFile(file, conf.replaceAll(`"${SERVER_TLS_DIR}/`, `"${join(out, 'tls')}/`));
        const r = await run(natsServerPath!, ['-t', '-c', file]).catch((e: { stderr?: string; message: string }) => ({ stdout: '', stderr: e.stderr ?? e.message }));
        expect(r.stderr, f.path).toContain('is valid');
      }
      const first = text(plan, `nats/${topology.regions[0]!.name}-nats-0.conf`);
      for (const r of topology.regions) {
        expect(first).toContain(`{ name: "${r.name}", urls: ["tls://`);
      }
      expect(first).toContain(`server_tags: ["region:${topology.regions[0]!.name}"]`);
      // With the VPN, listeners bind the overlay IP only; without it, every interface, and the
      // servers advertise (and their certificates name) the public addresses.
      if (example.endsWith('.yaml')) {
        expect(first).toContain('listen: "10.77.1.10:4222"');
        expect(first).toContain(`{ name: "${topology.regions[1]!.name}", urls: ["tls://10.77.2.10:7222"] }`);
      } else {
        expect(first).toContain('listen: "0.0.0.0:4222"');
        expect(first).toContain('client_advertise: "nats.us.example.com:4222"');
        expect(first).toContain('{ name: "eu-west", urls: ["tls://203.0.113.7:7222"] }');
        expect(first).toContain('{ name: "ap-southeast", urls: ["tls://ap-southeast-nats-0.ap-southeast.internal:7222"] }');
        const cert = new X509Certificate(text(plan, 'tls/eu-west-nats-0.pem'));
        expect(cert.checkIP('203.0.113.7')).toBe('203.0.113.7');
        expect(new X509Certificate(text(plan, 'tls/us-east-nats-0.pem')).checkHost('nats.us.example.com')).toBe('nats.us.example.com');
      }
      expect(first).toContain('system_account: "SYS"');
      expect(first.match(/nkey: "U[A-Z2-7]{55}"/g)).toHaveLength(topology.regions.length + 1);
    });
  }

  it('plans the same files twice, except keys, certificates and the configs that list public keys', async () => {
    const topology = await loadTopology('examples/five-regions.yaml');
    const a = await planDeployment(topology, { outDir: join(dir, 'same'), only: ['nats', 'cloudflare'] });
    const b = await planDeployment(topology, { outDir: join(dir, 'same'), only: ['nats', 'cloudflare'] });
    expect(b.files.map((f) => f.path)).toEqual(a.files.map((f) => f.path));
    const stripKeys = (s: string): string => s.replace(/nkey: "U[A-Z2-7]{55}"/g, 'nkey: "…"');
    for (const f of a.files) {
      const other = text(b, f.path);
      if (f.secret) expect(other, f.path).not.toBe(f.content);
      else if (f.path.endsWith('.pem')) expect(other, f.path).not.toBe(f.content);
      else if (f.path.endsWith('.conf')) expect(stripKeys(other), f.path).toBe(stripKeys(String(f.content)));
      else expect(other, f.path).toBe(f.content);
    }
    // With the same key material, every byte is the same.
    const secrets = planSecrets();
    const c = await planDeployment(topology, { outDir: join(dir, 'same'), only: ['nats'], secrets });
    const d = await planDeployment(topology, { outDir: join(dir, 'same'), only: ['nats'], secrets });
    expect(d.files).toEqual(c.files);
  });
});
