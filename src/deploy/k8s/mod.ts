/**
 * The Kubernetes manifests of `meridian plan`: `k8s/namespace.yaml`, and per region (one cluster
 * per region, or several regions in one) `k8s/<region>/`:
 *   topology.yaml  the meridian.yaml every node reads (ConfigMap)
 *   node.yaml      region node: StatefulSet, Services (LoadBalancer for WebSockets), PDB, HPA
 *   nats.yaml      NATS cluster: config, StatefulSet, Services (gateway LoadBalancer), PDB
 *   secrets.yaml   (secret) node credentials (auth secret, worker and admin tokens, NKEY seed,
 *                  CA) and the NATS server certificate
 * Apply: `kubectl apply -f k8s/namespace.yaml -f k8s/<region>/` in that region's cluster.
 *
 * Re-planning into a previous plan's directory (`--force`) keeps the auth secret and the worker
 * and admin tokens found in its `k8s/<region>/secrets.yaml` (`reuseK8sTokens`), as the NATS CA
 * and seeds are kept: new ones would invalidate every client token and worker on the next apply.
 */
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { natsUsers } from '../nats/accounts.js';
import { issueCert, planCa } from '../tls/mod.js';
import type { Generator, PlanContext, PlannedFile } from '../types.js';
import { natsCertNames, natsManifests, natsTlsSecret } from './nats.js';
import { DRAIN_DEADLINE_S, labels, nodeName, PRE_STOP_S, TERMINATION_GRACE_S } from './names.js';
import type { Manifest } from './names.js';
import { credentialsSecret, nodeManifests, topologyConfigMap } from './node.js';

export { nodeManifests, natsClientUrl, AFFINITY_TIMEOUT_S } from './node.js';
export { natsManifests, natsConf } from './nats.js';
export { TERMINATION_GRACE_S, DRAIN_DEADLINE_S, PRE_STOP_S } from './names.js';
export type { Manifest } from './names.js';

/** YAML documents, `---` separated. */
export function toYaml(docs: readonly Manifest[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

const token = (): string => randomBytes(24).toString('base64url');

/** The credentials every region shares (one value per deployment), by their key in the Secret. */
export const SHARED_TOKENS = ['auth-secret', 'worker-token', 'admin-token'] as const;

/** A previous plan's `k8s/<region>/secrets.yaml` node credentials, or undefined when there is none. */
async function previousTokens(outDir: string, region: string): Promise<{ file: string; values: Partial<Record<(typeof SHARED_TOKENS)[number], string>> } | undefined> {
  const rel = `k8s/${region}/secrets.yaml`;
  const file = join(outDir, rel);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  // The content is secret: errors name the file, never echo it.
  const unreadable = (): MeridianError =>
    new MeridianError(ErrorCode.InvalidArgument, `${file} is not the Secret manifests meridian plan wrote (delete it to make new credentials)`, { details: { file } });
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.some((d) => d.errors.length > 0)) throw unreadable();
  const secret = docs.map((d) => d.toJS() as unknown).find((d): d is { metadata: { name: unknown }; stringData?: unknown; data?: unknown } => {
    const m = d as { kind?: unknown; metadata?: { name?: unknown } } | null;
    return m?.kind === 'Secret' && m.metadata?.name === credentialsSecret(region);
  });
  if (secret === undefined) throw unreadable();
  const values: Partial<Record<(typeof SHARED_TOKENS)[number], string>> = {};
  const stringData = (secret.stringData ?? {}) as Record<string, unknown>;
  const data = (secret.data ?? {}) as Record<string, unknown>;
  for (const key of SHARED_TOKENS) {
    const v = typeof stringData[key] === 'string' ? stringData[key] : typeof data[key] === 'string' ? Buffer.from(data[key], 'base64').toString('utf8') : undefined;
    if (v !== undefined && v !== '') values[key] = v;
  }
  return { file: rel, values };
}

/**
 * `--force` onto a previous plan: keep the auth secret, worker token and admin token its
 * `k8s/<region>/secrets.yaml` files hold (one value per deployment, so the regions' files must
 * agree). Returns the files they were read from. Delete those files to make new credentials.
 */
export async function reuseK8sTokens(ctx: Pick<PlanContext, 'secrets' | 'topology' | 'outDir'>): Promise<string[]> {
  const found: Array<{ file: string; values: Partial<Record<(typeof SHARED_TOKENS)[number], string>> }> = [];
  for (const r of ctx.topology.regions) {
    const prev = await previousTokens(ctx.outDir, r.name);
    if (prev !== undefined) found.push(prev);
  }
  for (const key of SHARED_TOKENS) {
    const holders = found.filter((f) => f.values[key] !== undefined);
    const first = holders[0];
    if (first === undefined) continue;
    const other = holders.find((f) => f.values[key] !== first.values[key]);
    if (other !== undefined) {
      throw new MeridianError(
        ErrorCode.InvalidArgument,
        `${join(ctx.outDir, first.file)} and ${join(ctx.outDir, other.file)} hold different ${key} values, but one value serves every region: make them equal, or delete the k8s/*/secrets.yaml files to make new credentials`,
        { details: { files: [first.file, other.file], key } },
      );
    }
    const value = first.values[key]!;
    ctx.secrets.get(`k8s/${key}`, () => value);
  }
  return found.filter((f) => Object.keys(f.values).length > 0).map((f) => f.file);
}

async function natsTls(ctx: PlanContext, region: string): Promise<{ ca: string; cert: string; key: string }> {
  const provided = ctx.topology.deploy.nats.tls;
  if (provided !== undefined) {
    const [ca, cert, key] = await Promise.all([readFile(provided.ca, 'utf8'), readFile(provided.cert, 'utf8'), readFile(provided.key, 'utf8')]);
    return { ca, cert, key };
  }
  const ca = await planCa(ctx);
  const issued = await ctx.secrets.get(`tls/cert/k8s-${region}-nats`, () => issueCert(ca, { commonName: `nats-${region}`, names: natsCertNames(ctx.topology, region) }));
  return { ca: ca.certPem, cert: issued.certPem, key: issued.keyPem };
}

async function secretManifests(ctx: PlanContext, region: string): Promise<Manifest[]> {
  const ns = ctx.topology.deploy.kubernetes.namespace;
  const tls = await natsTls(ctx, region);
  const seed = natsUsers(ctx).find((u) => u.name === `${region}-node`)!.seed;
  // One value per deployment: a client's JWT and a worker's token are valid in every region.
  const shared = (name: string): string => ctx.secrets.get(`k8s/${name}`, token);
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: credentialsSecret(region), namespace: ns, labels: labels('region-node', region) },
      type: 'Opaque',
      stringData: { 'auth-secret': shared('auth-secret'), 'worker-token': shared('worker-token'), 'admin-token': shared('admin-token'), 'nats.nk': `${seed}\n`, 'ca.pem': tls.ca },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: natsTlsSecret(region), namespace: ns, labels: labels('nats', region) },
      type: 'Opaque',
      stringData: { 'ca.pem': tls.ca, 'tls.crt': tls.cert, 'tls.key': tls.key },
    },
  ];
}

/** Every manifest of the plan by file, secrets included (tests validate each one). */
export async function k8sManifests(ctx: PlanContext): Promise<Map<string, Manifest[]>> {
  const t = ctx.topology;
  const ns = t.deploy.kubernetes.namespace;
  const users = natsUsers(ctx);
  const out = new Map<string, Manifest[]>();
  out.set('k8s/namespace.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'app.kubernetes.io/part-of': 'meridian', 'app.kubernetes.io/managed-by': 'meridian-plan' } } }]);
  for (const r of t.regions) {
    const { deploy: _deploy, ...runtime } = t;
    out.set(`k8s/${r.name}/topology.yaml`, [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: topologyConfigMap(), namespace: ns, labels: labels('region-node', r.name) }, data: { 'meridian.yaml': stringify(runtime) } },
    ]);
    out.set(`k8s/${r.name}/node.yaml`, nodeManifests(t, r.name));
    out.set(`k8s/${r.name}/nats.yaml`, natsManifests(t, r.name, users));
    out.set(`k8s/${r.name}/secrets.yaml`, await secretManifests(ctx, r.name));
  }
  return out;
}

/** `deploy.kubernetes.nodeUrls` naming regions the topology does not have. */
function checkNodeUrls(ctx: PlanContext): void {
  const names = ctx.topology.regions.map((r) => r.name);
  const problems = Object.keys(ctx.topology.deploy.kubernetes.nodeUrls)
    .filter((r) => !names.includes(r))
    .sort()
    .map((r) => ({ path: ['deploy', 'kubernetes', 'nodeUrls', r], message: `unknown region "${r}" (known: ${names.join(', ')})` }));
  if (problems.length > 0) throw new MeridianError(ErrorCode.TopologyInvalid, `the Kubernetes manifests cannot be planned:\n${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n')}`, { details: { problems } });
}

function readme(ctx: PlanContext): string {
  const t = ctx.topology;
  const urls = t.deploy.kubernetes.nodeUrls;
  const without = t.regions.filter((r) => urls[r.name] === undefined).map((r) => r.name);
  return [
    '# Kubernetes (generated by meridian plan)',
    '',
    `Namespace \`${t.deploy.kubernetes.namespace}\`. In each region's cluster: \`kubectl apply -f k8s/namespace.yaml -f k8s/<region>/\`.`,
    '',
    '| region | node | node URL (deploy.kubernetes.nodeUrls) | NATS |',
    '|---|---|---|---|',
    ...t.regions.map((r) => `| ${r.name} | StatefulSet ${nodeName(r.name)} (Service ${nodeName(r.name)}: LoadBalancer :80, ClientIP affinity 3 h) | ${urls[r.name] ?? '(not set)'} | StatefulSet nats-${r.name} (gateway Service nats-${r.name}-gateway: LoadBalancer) |`),
    '',
    '- Set `deploy.hosts.<region>` to the address of the region\'s NATS gateway LoadBalancer (`nats-<region>-gateway`,',
    '  and re-plan): the other regions\' gateways dial it, and the NATS certificate names it. It serves NATS only.',
    '- Set `deploy.kubernetes.nodeUrls.<region>` to where clients reach the region\'s node: the address of its',
    '  `meridian-<region>` LoadBalancer (`http://IP`, port 80) or the https URL of what terminates TLS in front of it',
    '  (and re-plan). The other regions\' nodes get it in `--region-urls`: a draining node sends its clients there',
    '  (migrate), and /v1/regions lists it.',
    ...(without.length > 0
      ? [`- Not set for ${without.join(', ')}: a draining node of another region never sends clients ${without.length === 1 ? 'there' : 'to those'} (they go to the nearest region with a URL; with none at all, they are disconnected and reconnect through the edge), and /v1/regions lists no URL for ${without.length === 1 ? 'it' : 'them'}.`]
      : []),
    '- Autoscaling is on CPU (70 %). To scale on connections, install a custom metrics adapter (e.g.',
    '  prometheus-adapter) that exposes the nodes\' `meridian_connections` gauge as a Pods metric, and add to the HPA:',
    '  `{ type: Pods, pods: { metric: { name: meridian_connections }, target: { type: AverageValue, averageValue: "5000" } } }`.',
    `- Shutdown: preStop waits ${PRE_STOP_S} s, then SIGTERM drains (clients migrate, ${DRAIN_DEADLINE_S} s deadline); grace period ${TERMINATION_GRACE_S} s.`,
    '- secrets.yaml holds key material: apply it from a safe place, or convert it to your secret manager. Planning again into this',
    '  directory (`--force`) keeps its auth secret, worker and admin tokens (so client tokens and workers stay valid); delete the',
    '  secrets.yaml files to make new ones.',
    '',
  ].join('\n');
}

const ABOUT: Readonly<Record<string, string>> = {
  'topology.yaml': 'meridian.yaml for the nodes (ConfigMap)',
  'node.yaml': 'region node StatefulSet, Services (LoadBalancer for WebSockets), PDB, HPA',
  'nats.yaml': 'NATS StatefulSet, config, Services (gateway LoadBalancer), PDB',
  'secrets.yaml': 'node credentials (auth secret, tokens, NKEY seed) and the NATS certificate',
};

export const planK8s: Generator = async (ctx) => {
  checkNodeUrls(ctx);
  const files: PlannedFile[] = [];
  for (const [path, docs] of await k8sManifests(ctx)) {
    const region = path.split('/')[1]!;
    const about = path === 'k8s/namespace.yaml' ? 'Kubernetes: the namespace, in every region\'s cluster' : `Kubernetes, ${region}'s cluster: ${ABOUT[path.slice(path.lastIndexOf('/') + 1)] ?? ''}`;
    files.push({ path, content: toYaml(docs), about, ...(path.endsWith('/secrets.yaml') ? { secret: true } : {}) });
  }
  files.push({ path: 'k8s/README.md', content: readme(ctx), about: 'Kubernetes: what runs where, autoscaling on connections, shutdown timing' });
  return files;
};
