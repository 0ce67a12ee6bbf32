/**
 * The Nebula VPN mesh of `meridian plan`: a CA, a certificate and key per host, a config per host
 * and a README with the address table, under `vpn/`:
 *
 *   vpn/ca.crt, vpn/ca.key (secret), vpn/<host>.crt, vpn/<host>.key (secret), vpn/<host>.yml,
 *   vpn/README.md
 *
 * Addresses come from the shared inventory (inventory.ts: the documented scheme), so the NATS
 * gateway URLs the NATS generator writes are these overlay IPs. Configs are deterministic;
 * certificates are made by the real `nebula-cert` (nebula-cert.ts) and so differ per plan,
 * except that an existing `vpn/ca.crt` + `vpn/ca.key` in the output directory is reused, and so
 * is each existing host key `vpn/<host>.key` (its certificate is re-signed for the same key).
 * On each host: copy `ca.crt`, `<host>.crt`, `<host>.key` to /etc/nebula and run
 * `nebula -config /etc/nebula/<host>.yml`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { checkInventory } from '../inventory.js';
import type { Generator, PlanContext, PlannedFile, PlanProblem } from '../types.js';
import { certIp, checkVpn, nebulaConfig, underlayOf } from './config.js';
import { allGroups, hostGroups, inboundRules } from './firewall.js';
import { makeNebulaPki, nebulaPublicKey } from './nebula-cert.js';
import type { NebulaCa, NebulaPki } from './nebula-cert.js';

export { checkVpn, missingLighthouseAddresses, nebulaConfig, parseUnderlay } from './config.js';
export { hostGroups, inboundRules } from './firewall.js';
export { makeNebulaPki, nebulaCertBinary, nebulaPublicKey } from './nebula-cert.js';
export type { NebulaPki } from './nebula-cert.js';

/** Where the configs expect the PKI files on each host. */
export const NEBULA_PKI_DIR = '/etc/nebula';

function refuse(problems: readonly PlanProblem[]): never {
  const text = problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n');
  throw new MeridianError(ErrorCode.TopologyInvalid, `the VPN cannot be planned:\n${text}`, { details: { problems } });
}

async function existingCa(outDir: string): Promise<NebulaCa | undefined> {
  try {
    return { crt: await readFile(join(outDir, 'vpn', 'ca.crt'), 'utf8'), key: await readFile(join(outDir, 'vpn', 'ca.key'), 'utf8') };
  } catch {
    return undefined;
  }
}

/** A previous plan's host keys (`vpn/<host>.key`) for the planned hosts, by host name. */
async function existingKeys(ctx: PlanContext): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const h of ctx.inventory.hosts) {
    const file = join(ctx.outDir, 'vpn', `${h.name}.key`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    // The content is a secret: name the file, never echo it.
    if (nebulaPublicKey(text) === undefined) throw new MeridianError(ErrorCode.InvalidArgument, `${file} does not hold a Nebula X25519 private key (delete it to make a new one)`, { details: { file } });
    keys.set(h.name, text);
  }
  return keys;
}

export type PlannedNebulaPki = NebulaPki & {
  /** Files of the previous plan in the output directory that were kept (`vpn/ca.*`, `vpn/<host>.key`). */
  readonly reused: readonly string[];
};

/**
 * The mesh's PKI, made once per plan (memoized in the plan's secrets). Re-planning into a
 * previous plan's directory keeps its CA and host keys (not in `--local` mode); delete
 * `vpn/ca.key` or a `vpn/<host>.key` to rotate it.
 */
export function nebulaPki(ctx: PlanContext): Promise<PlannedNebulaPki> {
  return ctx.secrets.get('vpn/nebula-pki', async () => {
    const ca = ctx.local !== undefined ? undefined : await existingCa(ctx.outDir);
    const keys = ctx.local !== undefined ? new Map<string, string>() : await existingKeys(ctx);
    const pki = await makeNebulaPki({
      caName: `Meridian overlay ${ctx.topology.deploy.vpn.cidr}`,
      cidr: ctx.topology.deploy.vpn.cidr,
      groups: allGroups(ctx.topology),
      hosts: ctx.inventory.hosts.map((h) => ({ name: h.name, ip: certIp(ctx.topology, h), groups: hostGroups(h) })),
      ...(ca === undefined ? {} : { existingCa: ca }),
      existingKeys: keys,
    });
    return { ...pki, reused: [...(ca === undefined ? [] : ['vpn/ca.crt', 'vpn/ca.key']), ...[...keys.keys()].map((h) => `vpn/${h}.key`)] };
  });
}

/** The files, with the configs naming the PKI files in `pkiDir` (tests and labs point it at a temp dir). */
export async function renderNebula(ctx: PlanContext, opts: { pkiDir?: string } = {}): Promise<PlannedFile[]> {
  const problems = [...checkInventory(ctx.topology), ...checkVpn(ctx.topology, ctx.inventory, ctx.local !== undefined)];
  if (problems.length > 0) refuse(problems);
  const pkiDir = opts.pkiDir ?? (ctx.local !== undefined ? join(ctx.outDir, 'vpn') : NEBULA_PKI_DIR);
  const pki = await nebulaPki(ctx);
  const files: PlannedFile[] = [
    { path: 'vpn/ca.crt', content: pki.ca.crt, about: 'Nebula CA certificate: every host, /etc/nebula/ca.crt' },
    { path: 'vpn/ca.key', content: pki.ca.key, secret: true, about: 'Nebula CA key: keep offline; re-planning here reuses it to sign new host certificates' },
  ];
  for (const h of ctx.inventory.hosts) {
    const cert = pki.hosts.get(h.name)!;
    files.push(
      { path: `vpn/${h.name}.crt`, content: cert.crt, about: `${h.name} only: /etc/nebula/${h.name}.crt (overlay ${h.overlayIp}, groups ${hostGroups(h).join(', ')})` },
      { path: `vpn/${h.name}.key`, content: cert.key, secret: true, about: `${h.name} only: /etc/nebula/${h.name}.key` },
      { path: `vpn/${h.name}.yml`, about: `${h.name} only: /etc/nebula/${h.name}.yml, run \`nebula -config\` with it`, content: `# Nebula config of ${h.name} (${h.role}${h.region === '' ? '' : `, region ${h.region}`}), generated by meridian plan.\n${stringify(nebulaConfig(ctx, h, pkiDir))}` },
    );
  }
  files.push({ path: 'vpn/README.md', content: readme(ctx), about: 'the overlay: address table, firewall, how to install' });
  return files;
}

function readme(ctx: PlanContext): string {
  const rows = ctx.inventory.hosts.map((h) => {
    const u = underlayOf(ctx, h);
    const inbound = inboundRules(ctx.topology, h)
      .filter((r) => r.proto !== 'icmp')
      .map((r) => `${r.port}/${r.proto} from ${(r.groups ?? ['any']).join('+')}`)
      .join(', ');
    return `| ${h.name} | ${h.role} | ${h.overlayIp} | ${u === undefined ? '(any; dials out)' : `${u.host}:${u.port}`} | ${hostGroups(h).join(', ')} | ${h.role === 'lighthouse' ? '(no tun device)' : inbound || '—'} |`;
  });
  return [
    '# Nebula overlay (generated by meridian plan)',
    '',
    `Overlay ${ctx.topology.deploy.vpn.cidr}, UDP port ${ctx.topology.deploy.vpn.port}. Per region: ${ctx.inventory.regions.map((r) => `${r.name} ${r.cidr}`).join(', ')}.`,
    '',
    '| host | role | overlay IP | underlay | groups | inbound (tcp) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    'Every host also accepts ICMP from the group `meridian`; everything else inbound is dropped.',
    '',
    'The ops hosts (`ops-<n>`, group `meridian-ops`) are where operators run `meridian doctor` and a metrics scraper: they may reach the NATS monitoring and client ports and the region nodes\' port. The edge hosts (`edge-<n>`, group `meridian-edge`) run haproxy (`haproxy/`) or `meridian edge`: they may reach the region nodes\' port only. Neither accepts anything but ICMP; give each its own machine (an edge faces the internet). Their counts are `deploy.vpn.opsHosts` and `deploy.vpn.edgeHosts`.',
    '',
    'Install on each host: `apt-get install nebula`, copy `ca.crt`, `<host>.crt`, `<host>.key` (0600) and',
    '`<host>.yml` to /etc/nebula, then run `nebula -config /etc/nebula/<host>.yml` (as a systemd service).',
    'Lighthouses need their UDP port reachable from every other host. Keep `ca.key` offline: re-running',
    '`meridian plan` into this directory (`--force`) reuses `ca.crt`/`ca.key` and every `<host>.key`, so the re-signed host',
    'certificates join the running mesh and each host keeps its key. Delete a `.key` file to rotate that key.',
    '',
  ].join('\n');
}

export const planVpn: Generator = async (ctx) => {
  const kind = ctx.topology.deploy.vpn.kind;
  if (kind === 'none') return [];
  if (kind === 'wireguard') {
    throw new MeridianError(ErrorCode.NotAvailable, 'deploy.vpn.kind: wireguard configs are not generated yet; use kind: nebula (or none and your own network)', {
      details: { path: ['deploy', 'vpn', 'kind'] },
    });
  }
  return renderNebula(ctx);
};
