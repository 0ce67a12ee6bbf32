/**
 * `meridian plan`: the topology in, a deployment out. The orchestrator selects the targets, checks
 * the topology for what cannot be planned (each problem located by its path in meridian.yaml),
 * runs the generators with one shared inventory and one set of secrets, and adds the README.md
 * that says what every file is and where it goes. Writing is separate (write.ts), so a plan can
 * be inspected or tested without touching the disk.
 *
 * Generators report unplannable input by throwing an error that carries `problems`
 * (`PlanProblem[]`, on the error or in its `details`); the orchestrator runs every selected
 * generator anyway so all problems are reported at once, and throws one `PlanError`.
 *
 * With the default targets (no `--only`), a Nebula VPN whose lighthouses have no public address
 * (a topology without `deploy.hosts`: the built-in one, the examples) is skipped rather than
 * refused: the other targets do not need those addresses, so the plan writes them, warns (located)
 * and says in its README what to set to add the mesh. `--only vpn` still refuses.
 */
import { join, resolve } from 'node:path';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { Topology } from '../topology/mod.js';
import { planCloudflare } from './cloudflare.js';
import { planHaproxy, regionNodeUrls } from './haproxy/mod.js';
import { checkInventory, inventory as makeInventory } from './inventory.js';
import { planK8s, reuseK8sTokens } from './k8s/mod.js';
import { allocateLocalPorts } from './local.js';
import { checkNats, planNats, reuseCa, reuseSeeds } from './nats/mod.js';
import { natsLayout } from './nats/layout.js';
import { natsReadme } from './nats/readme.js';
import { planSecrets } from './secrets.js';
import { PLAN_TARGETS } from './types.js';
import type { Generator, Inventory, PlanContext, PlanHost, PlannedFile, PlanProblem, PlanTarget, Secrets } from './types.js';
import { missingLighthouseAddresses, nebulaPki, planVpn } from './vpn/mod.js';

const GENERATORS: Readonly<Record<PlanTarget, Generator>> = {
  nats: planNats,
  vpn: planVpn,
  k8s: planK8s,
  haproxy: planHaproxy,
  cloudflare: planCloudflare,
};

const TITLES: Readonly<Record<PlanTarget, string>> = {
  nats: 'NATS super-cluster (configs, TLS, NKEY credentials, region node settings)',
  vpn: 'Nebula VPN mesh',
  k8s: 'Kubernetes manifests',
  haproxy: 'haproxy edge',
  cloudflare: 'Cloudflare Load Balancing',
};

export interface PlanOptions {
  /** Output directory; configs of a `--local` plan name files inside it. */
  readonly outDir: string;
  /** Targets to plan (default: all of `PLAN_TARGETS`). */
  readonly only?: readonly PlanTarget[];
  /** Render for one machine: every host on 127.0.0.1 with free ports. */
  readonly local?: boolean;
  /** Key material to use (default: fresh for this plan). */
  readonly secrets?: Secrets;
}

export interface Plan {
  readonly targets: readonly PlanTarget[];
  /** Every file, README.md included, sorted by path. */
  readonly files: readonly PlannedFile[];
  /** Accepted but worth knowing (e.g. an even server count with allowEvenServers). */
  readonly warnings: readonly PlanProblem[];
  readonly inventory: Inventory;
  /** `--local`: host → listener → port on 127.0.0.1 (also in `local/ports.json`). */
  readonly localPorts?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Key material kept from a previous plan in the output directory (file paths). */
  readonly reused: readonly string[];
  /** `k8s/<region>/secrets.yaml` files whose auth secret, worker and admin tokens were kept (the certificate in them is new). */
  readonly reusedTokens: readonly string[];
  /** Default targets left out, and why (each reason is also a warning). */
  readonly skipped: readonly SkippedTarget[];
}

export interface SkippedTarget {
  readonly target: PlanTarget;
  /** One line: why, and what to set to plan it. */
  readonly reason: string;
}

/** The topology cannot be planned: every problem, located by its path in meridian.yaml. */
export class PlanError extends MeridianError {
  override name = 'PlanError';
  constructor(
    readonly problems: readonly PlanProblem[],
    readonly warnings: readonly PlanProblem[] = [],
  ) {
    super(ErrorCode.TopologyInvalid, `the topology cannot be planned:\n${problems.map((p) => `${pathText(p.path)}: ${p.message}`).join('\n')}`, { details: { problems } });
  }
}

/** `deploy.nats.ports.client`, `regions[1].name`: how topology errors print paths. */
export function pathText(path: readonly (string | number)[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : `${s ? '.' : ''}${k}`;
  return s;
}

/** `nats,vpn` → targets, in PLAN_TARGETS order. Throws `INVALID_ARGUMENT` on an unknown name. */
export function parseTargets(list: string): PlanTarget[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !(PLAN_TARGETS as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new MeridianError(ErrorCode.InvalidArgument, `unknown plan target${unknown.length === 1 ? '' : 's'} ${unknown.map((u) => `"${u}"`).join(', ') || '(none given)'}: choose from ${PLAN_TARGETS.join(', ')}`, { details: { unknown } });
  }
  return PLAN_TARGETS.filter((t) => names.includes(t));
}

function problemsOf(err: unknown): PlanProblem[] | undefined {
  const e = err as { problems?: unknown; details?: { problems?: unknown } } | null;
  const list = Array.isArray(e?.problems) ? e.problems : Array.isArray(e?.details?.problems) ? e.details.problems : undefined;
  if (list === undefined) return undefined;
  return (list as PlanProblem[]).filter((p) => Array.isArray(p.path) && typeof p.message === 'string');
}

function dedupe(ps: readonly PlanProblem[]): PlanProblem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${pathText(p.path)}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export async function planDeployment(topology: Topology, opts: PlanOptions): Promise<Plan> {
  let targets = opts.only === undefined ? [...PLAN_TARGETS] : PLAN_TARGETS.filter((t) => opts.only!.includes(t));
  const inventory = makeInventory(topology, { local: opts.local === true });
  const warnings: PlanProblem[] = [];
  const skipped: SkippedTarget[] = [];
  if (opts.only === undefined && opts.local !== true && topology.deploy.vpn.kind === 'nebula') {
    const missing = missingLighthouseAddresses(topology, inventory);
    if (missing.length > 0) {
      targets = targets.filter((t) => t !== 'vpn');
      const regions = [...new Set(missing.map((p) => String(p.path[2])))];
      skipped.push({
        target: 'vpn',
        reason: `the Nebula lighthouses need public addresses: set deploy.hosts for ${regions.join(', ')} (or deploy.vpn.underlay.<lighthouse>) and plan again with --force; or set deploy.vpn.kind: none to run on your own private network`,
      });
      warnings.push(...missing.map((p) => ({ path: p.path, message: `vpn not planned: ${p.message}` })));
    }
  }
  const local = opts.local === true ? await allocateLocalPorts(inventory) : undefined;
  const ctx: PlanContext = {
    topology,
    inventory,
    secrets: opts.secrets ?? planSecrets(),
    outDir: resolve(opts.outDir),
    ...(local === undefined ? {} : { local }),
  };
  const problems: PlanProblem[] = [...checkInventory(topology)];
  // The Kubernetes target runs the same NATS layout (server counts, ports) in pods.
  if (targets.includes('nats') || targets.includes('k8s')) {
    const nats = await checkNats(ctx, { hosts: targets.includes('nats') });
    problems.push(...nats.problems);
    warnings.push(...nats.warnings);
  }
  const reused: string[] = [];
  let reusedTokens: string[] = [];
  // Whichever targets use them (NATS configs, Kubernetes secrets), a previous plan's CA and seeds
  // in the output directory are kept, and so are its Kubernetes tokens (the Nebula CA and host
  // keys are read by the VPN generator).
  if (problems.length === 0) {
    if (await reuseCa(ctx)) reused.push('tls/ca.pem', 'tls/ca-key.pem');
    reused.push(...(await reuseSeeds(ctx)).map((u) => `nats/users/${u}.nk`));
    if (targets.includes('k8s')) reusedTokens = await reuseK8sTokens(ctx);
  }
  const files: PlannedFile[] = [];
  for (const target of targets) {
    // With the addressing or the NATS settings already refused, generators would fail obscurely.
    if (problems.length > 0 && target === 'nats') continue;
    try {
      files.push(...(await GENERATORS[target](ctx)));
    } catch (err) {
      const found = problemsOf(err);
      if (found === undefined) throw err;
      problems.push(...found);
    }
  }
  if (problems.length > 0) throw new PlanError(dedupe(problems), warnings);
  if (files.some((f) => f.path === 'vpn/ca.crt')) reused.push(...(await nebulaPki(ctx)).reused);

  const localPorts = local?.assigned();
  if (localPorts !== undefined) {
    files.push({ path: 'local/ports.json', content: `${JSON.stringify(localPorts, null, 2)}\n`, about: '`--local`: the port of every listener on 127.0.0.1, by host' });
  }
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path) || f.path === 'README.md') throw new MeridianError(ErrorCode.InvalidArgument, `two generators planned ${f.path}`, { details: { path: f.path } });
    seen.add(f.path);
  }
  files.push({ path: 'README.md', content: readme(ctx, targets, files, warnings, skipped), about: 'this file' });
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { targets, files, warnings, inventory, reused, reusedTokens, skipped, ...(localPorts === undefined ? {} : { localPorts }) };
}

const FALLBACK_ABOUT: ReadonlyArray<[string, string]> = [
  ['vpn/', 'Nebula VPN mesh'],
  ['k8s/', 'Kubernetes manifests'],
  ['haproxy/', 'haproxy edge host'],
];

/** A generator's own `about`, else its area, pointing at the area's README when it wrote one. */
function aboutOf(f: PlannedFile, all: readonly PlannedFile[]): string {
  if (f.about !== undefined) return f.about;
  const slash = f.path.indexOf('/');
  const guide = slash > 0 ? `${f.path.slice(0, slash)}/README.md` : undefined;
  if (guide === f.path) return 'how to install this part';
  const area = FALLBACK_ABOUT.find(([prefix]) => f.path.startsWith(prefix))?.[1] ?? '';
  const see = guide !== undefined && all.some((x) => x.path === guide) ? `see ${guide}` : '';
  return [area, see].filter(Boolean).join(': ');
}

function readme(ctx: PlanContext, targets: readonly PlanTarget[], files: readonly PlannedFile[], warnings: readonly PlanProblem[], skipped: readonly SkippedTarget[]): string {
  const sorted = [...files, { path: 'README.md', about: 'this file' } as PlannedFile].sort((a, b) => (a.path < b.path ? -1 : 1));
  const regions = ctx.topology.regions.map((r) => r.name).join(', ');
  const out = [
    '# Meridian deployment plan',
    '',
    `Written by \`meridian plan\` for the regions ${regions}${ctx.local ? ' in `--local` mode: every host on 127.0.0.1 with its own ports, paths inside this directory, to run on one machine' : ''}.`,
    '',
    'Targets:',
    ...targets.map((t) => {
      const guide = files.find((f) => f.path === `${t}/README.md`);
      return `- \`${t}\`: ${TITLES[t]}${t === 'nats' ? ' (see "NATS super-cluster" below)' : guide ? ` (see \`${guide.path}\`)` : ''}`;
    }),
    '',
    ...(skipped.length > 0
      ? [
          '## Not planned',
          '',
          ...skipped.map((s) => `- \`${s.target}\` (${TITLES[s.target]}): ${s.reason}.${s.target === 'vpn' && targets.includes('nats') ? ` The NATS configs and \`nodes/*.env\` already use the overlay addresses that mesh gives (in \`${ctx.topology.deploy.vpn.cidr}\`), so they work once it runs; with \`deploy.vpn.kind: none\` they use \`deploy.hosts\` instead.` : ''}`),
          '',
        ]
      : []),
    '## Secrets',
    '',
    'Files marked **secret** are private keys and NKEY seeds. They were written with mode 0600 and were never printed; copy each only to the host named for it, and keep `tls/ca-key.pem` (if any) offline. Do not commit this directory.',
    '',
    'Planning the same topology again gives byte-identical files except the secrets and the files that embed something derived from them: the certificates (`*.pem`, `*.crt`, new keys, serial numbers and dates) and the NATS server configs (`nats/*.conf`, and the ConfigMap in `k8s/<region>/nats.yaml`), which list the NKEY users\' public keys. Everything else (ports, addresses, routes, gateways, manifests) is the same.',
    '',
    'Planning again into this directory (`--force`) keeps the secrets found here, so deployed servers, nodes, clients and workers keep working: the NATS CA (`tls/ca.pem`, `tls/ca-key.pem`) and the NKEY seeds (`nats/users/*.nk`), so the NATS configs do not change; the Nebula CA (`vpn/ca.crt`, `vpn/ca.key`) and host keys (`vpn/<host>.key`); and the Kubernetes auth secret, worker and admin tokens (read back from `k8s/<region>/secrets.yaml`). Server and host certificates are re-issued by the same CAs. To rotate, delete those files before planning.',
    '',
    ...(warnings.length > 0 ? ['## Warnings', '', ...warnings.map((w) => `- \`${pathText(w.path)}\`: ${w.message}`), ''] : []),
    '## Files',
    '',
    '| file | secret | what it is, where it goes |',
    '|---|---|---|',
    ...sorted.map((f) => `| \`${f.path}\` | ${f.secret ? '**secret**' : ''} | ${aboutOf(f, sorted).replace(/\|/g, '\\|')} |`),
    '',
  ];
  if (targets.includes('nats')) out.push(natsReadme(ctx));
  if (targets.some((t) => t === 'nats' || t === 'vpn' || t === 'haproxy')) out.push(operateReadme(ctx));
  return `${out.join('\n')}`;
}

/** The doctor and edge command lines for this plan's addresses, and the hosts to run them from. */
export function operateReadme(ctx: PlanContext): string {
  const layout = natsLayout(ctx);
  const pairs = (f: (s: (typeof layout)[number]) => string): string => layout.map((s) => `${s.region}=${f(s)}`).join(',');
  const nodes = [...regionNodeUrls(ctx)].map(([r, u]) => `${r}=${u}`).join(',');
  const mesh = ctx.local === undefined && ctx.topology.deploy.vpn.kind !== 'none';
  const ops = ctx.inventory.hosts.filter((h) => h.role === 'ops');
  const edges = ctx.inventory.hosts.filter((h) => h.role === 'edge');
  const named = (hs: readonly PlanHost[], role: string): string => (hs.length > 0 ? `an ${role} host, ${hs.map((h) => `\`${h.name}\` ${h.overlayIp}`).join(' or ')}` : `a host you add to the mesh with the group \`meridian-${role}\``);
  return [
    '## Check it, and the edge',
    '',
    mesh
      ? `Run \`meridian doctor\` from ${named(ops, 'ops')}: the NATS servers open their monitoring and client ports, and the region nodes their port, to its Nebula group \`meridian-ops\` (\`deploy.vpn.opsHosts\` sets how many ops hosts). Install Nebula there like on any host (\`vpn/<host>.*\`), with \`tls/ca.pem\` and the topology:`
      : ctx.local !== undefined
        ? 'Every listener is on 127.0.0.1: run `meridian doctor` on this machine:'
        : 'Run `meridian doctor` from a host that reaches these addresses (the monitoring port has no authentication: keep it on your private network):',
    '',
    '```sh',
    `meridian doctor --config meridian.yaml --ca ${ctx.local !== undefined ? join(ctx.outDir, 'tls', 'ca.pem') : 'tls/ca.pem'} \\`,
    `  --nats-monitor ${pairs((s) => s.monitorUrl)} \\`,
    `  --nats ${pairs((s) => s.clientUrl)} \\`,
    `  --regions ${nodes}`,
    '```',
    '',
    mesh
      ? `The edge runs on ${named(edges, 'edge')} (\`deploy.vpn.edgeHosts\` sets how many): its group \`meridian-edge\` may reach the region nodes' port and nothing else. \`haproxy/haproxy.cfg\` targets the nodes there; or run the Meridian edge:`
      : 'The edge (`haproxy/haproxy.cfg` targets the same node addresses), or the Meridian edge:',
    '',
    '```sh',
    `meridian edge --config meridian.yaml --regions ${nodes}`,
    '```',
    '',
  ].join('\n');
}
