/**
 * The Kubernetes generator: every manifest of every file, as written (YAML parsed back), validated
 * against the Kubernetes OpenAPI schemas with kubernetes-models (no cluster), plus what the
 * manifests must say: probes, drain timing, affinity, autoscaling, budgets, consistent names and
 * labels, secrets marked secret, a NATS certificate for the Services' names, and the NATS config
 * accepted by `nats-server -t`.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { inventory } from '../../src/deploy/inventory.js';
import { DRAIN_DEADLINE_S, PRE_STOP_S, planK8s } from '../../src/deploy/k8s/mod.js';
import { NODE_DEFAULTS } from '../../src/node/options.js';
import type { PlanContext, PlannedFile } from '../../src/deploy/types.js';
import { loadTopology, parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';

const run = promisify(execFile);

function planContext(topology: Topology): PlanContext {
  const memo = new Map<string, unknown>();
  return {
    topology,
    inventory: inventory(topology),
    outDir: '/nonexistent',
    secrets: {
      get<T>(name: string, make: () => T): T {
        if (!memo.has(name)) memo.set(name, make());
        return memo.get(name) as T;
      },
    },
  };
}

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const MODELS: Record<string, new (d: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

function docs(files: readonly PlannedFile[], path: string): Doc[] {
  const f = files.find((x) => x.path === path);
  if (f === undefined) throw new Error(`no ${path}`);
  return parseAllDocuments(String(f.content)).map((d) => d.toJS() as Doc);
}

const TOPOLOGY = `regions:
  - { name: us-east, location: { lat: 39, lon: -77 }, jurisdiction: US }
  - { name: eu-west, location: { lat: 53, lon: -6 }, jurisdiction: EU }
deploy:
  hosts: { us-east: nats.us-east.example.com, eu-west: 203.0.113.20 }
  nats: { serversPerRegion: { us-east: 3 } }
  kubernetes: { namespace: rt-prod, image: registry.example.com/meridian:1.2.3, replicas: 3, maxReplicas: 10, storageClass: fast-ssd, nodeUrls: { us-east: https://us.example.com/ } }
`;

describe('k8s: manifests validated against the Kubernetes schemas', () => {
  let files: PlannedFile[];
  beforeAll(async () => {
    files = await planK8s(planContext(parseTopology(TOPOLOGY, 'm.yaml')));
  });

  it('writes the namespace and, per region, topology, node, nats and secrets files', () => {
    expect(files.map((f) => f.path).sort()).toEqual([
      'k8s/README.md',
      'k8s/eu-west/nats.yaml', 'k8s/eu-west/node.yaml', 'k8s/eu-west/secrets.yaml', 'k8s/eu-west/topology.yaml',
      'k8s/namespace.yaml',
      'k8s/us-east/nats.yaml', 'k8s/us-east/node.yaml', 'k8s/us-east/secrets.yaml', 'k8s/us-east/topology.yaml',
    ]);
    expect(files.filter((f) => f.secret).map((f) => f.path).sort()).toEqual(['k8s/eu-west/secrets.yaml', 'k8s/us-east/secrets.yaml']);
  });

  it('every document of every file passes its model\'s validate(), in one namespace with consistent labels', () => {
    let n = 0;
    for (const f of files.filter((x) => x.path.endsWith('.yaml'))) {
      for (const d of docs(files, f.path)) {
        const Model = MODELS[`${d.apiVersion}/${d.kind}`];
        expect(Model, `${f.path}: a model for ${d.apiVersion} ${d.kind}`).toBeDefined();
        expect(() => new Model!(d as never).validate(), `${f.path} ${d.kind} ${d.metadata.name}`).not.toThrow();
        if (d.kind !== 'Namespace') {
          expect(d.metadata.namespace).toBe('rt-prod');
          expect(d.metadata.labels).toMatchObject({ 'app.kubernetes.io/part-of': 'meridian', 'app.kubernetes.io/managed-by': 'meridian-plan' });
        }
        const spec = d.spec as { selector?: { matchLabels?: object }; template?: { metadata?: { labels?: object } } } | undefined;
        if (spec?.selector?.matchLabels !== undefined) expect(spec.template?.metadata?.labels ?? d.metadata.labels).toMatchObject(spec.selector.matchLabels);
        n++;
      }
    }
    expect(n).toBe(1 + 2 * (1 + 5 + 6 + 2));
  });

  it('a deliberately broken manifest fails validation (the check can fail)', () => {
    const [sts] = docs(files, 'k8s/us-east/node.yaml');
    const broken = structuredClone(sts!) as unknown as IStatefulSet;
    (broken.spec as { replicas: unknown }).replicas = 'three';
    expect(() => new StatefulSet(broken).validate()).toThrow(/replicas/);
  });

  it('runs the region node with readiness, liveness, a preStop drain inside the grace period, and a data volume', () => {
    const sts = docs(files, 'k8s/eu-west/node.yaml')[0] as unknown as IStatefulSet;
    expect(sts).toMatchObject({ kind: 'StatefulSet', metadata: { name: 'meridian-eu-west' }, spec: { replicas: 3 } });
    const pod = sts.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(c.image).toBe('registry.example.com/meridian:1.2.3');
    expect(c.args!.slice(0, 6)).toEqual(['region', 'eu-west', '--config', '/etc/meridian/topology/meridian.yaml', '--bus', 'nats']);
    expect(c.args).toContain('tls://nats-eu-west.rt-prod.svc.cluster.local:4222');
    // The other regions' nodes as clients reach them (their node Service), never deploy.hosts: on
    // Kubernetes that is the NATS gateway LoadBalancer, which serves only the gateway port.
    expect(c.args!.slice(c.args!.indexOf('--region-urls'))).toEqual(['--region-urls', 'us-east=https://us.example.com']);
    expect(c.args!.join(' ')).not.toContain('nats.us-east.example.com');
    // eu-west has no node URL: us-east's nodes get no --region-urls, and the README says what that means.
    const east = (docs(files, 'k8s/us-east/node.yaml')[0] as unknown as IStatefulSet).spec!.template.spec!.containers[0]!;
    expect(east.args).not.toContain('--region-urls');
    const readme = String(files.find((f) => f.path === 'k8s/README.md')!.content);
    expect(readme).toContain('| us-east | StatefulSet meridian-us-east (Service meridian-us-east: LoadBalancer :80, ClientIP affinity 3 h) | https://us.example.com/ |');
    expect(readme).toContain('- Not set for eu-west: a draining node of another region never sends clients there');
    expect(c.readinessProbe!.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(c.livenessProbe!.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(c.lifecycle!.preStop!.exec!.command).toEqual(['sh', '-c', `sleep ${PRE_STOP_S}`]);
    // Against the node's own drain deadline (not the generator's copy of it): the pod is killed
    // only after the preStop pause and a full drain. The manifest sets no drain deadline of its
    // own, so the node runs with its default.
    const preStopS = Number(/^sleep (\d+)$/.exec(c.lifecycle!.preStop!.exec!.command![2]!)![1]);
    expect(c.args!.some((a) => a.includes('drain'))).toBe(false);
    expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(preStopS * 1000 + NODE_DEFAULTS.drainDeadlineMs);
    expect(DRAIN_DEADLINE_S * 1000).toBeGreaterThanOrEqual(NODE_DEFAULTS.drainDeadlineMs);
    expect(String(files.find((f) => f.path === 'k8s/README.md')!.content)).toContain(
      `preStop waits ${preStopS} s, then SIGTERM drains (clients migrate, ${NODE_DEFAULTS.drainDeadlineMs / 1000} s deadline); grace period ${pod.terminationGracePeriodSeconds} s`,
    );
    expect(sts.spec!.volumeClaimTemplates![0]!.spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '1Gi' } } });
  });

  it('exposes WebSockets on a LoadBalancer with 3 h ClientIP affinity, with a PDB and a CPU autoscaler', () => {
    const d = docs(files, 'k8s/us-east/node.yaml');
    const lb = d.find((x) => x.kind === 'Service' && x.spec?.['type'] === 'LoadBalancer')!;
    expect(lb.spec).toMatchObject({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } } });
    expect(d.find((x) => x.kind === 'PodDisruptionBudget')!.spec).toMatchObject({ maxUnavailable: 1 });
    const hpa = d.find((x) => x.kind === 'HorizontalPodAutoscaler')!;
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 10, scaleTargetRef: { kind: 'StatefulSet', name: 'meridian-us-east' } });
    expect(hpa.spec!['metrics']).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
  });

  it('refuses node URLs that are not http(s) URLs or name unknown regions, each located', async () => {
    expect(() => parseTopology(TOPOLOGY.replace('https://us.example.com/', 'nats.us-east.example.com:7222'), 'm.yaml')).toThrow(/deploy\.kubernetes\.nodeUrls\.us-east.*a node URL looks like/s);
    const err = await Promise.resolve(planK8s(planContext(parseTopology(TOPOLOGY.replace('nodeUrls: { us-east', 'nodeUrls: { mars: http://203.0.113.9, us-east'), 'm.yaml')))).catch((e: unknown) => e);
    expect(err).toMatchObject({ details: { problems: [{ path: ['deploy', 'kubernetes', 'nodeUrls', 'mars'], message: 'unknown region "mars" (known: us-east, eu-west)' }] } });
  });

  it('gives the nodes the topology without its deploy section, as a file meridian can load', () => {
    const [cm] = docs(files, 'k8s/us-east/topology.yaml');
    const t = parseTopology(cm!.data!['meridian.yaml']!, 'configmap');
    expect(t.regions.map((r) => r.name)).toEqual(['us-east', 'eu-west']);
    expect(cm!.data!['meridian.yaml']).not.toContain('deploy:');
  });

  it('runs NATS as a StatefulSet per region with a quorum-keeping PDB and a gateway LoadBalancer', () => {
    const d = docs(files, 'k8s/us-east/nats.yaml');
    expect(d.map((x) => `${x.kind}/${x.metadata.name}`)).toEqual([
      'ConfigMap/nats-us-east-config', 'StatefulSet/nats-us-east', 'Service/nats-us-east-headless', 'Service/nats-us-east', 'Service/nats-us-east-gateway', 'PodDisruptionBudget/nats-us-east',
    ]);
    expect(d[1]!.spec).toMatchObject({ replicas: 3 });
    expect(d[5]!.spec).toMatchObject({ maxUnavailable: 1 });
    const conf = d[0]!.data!['nats.conf']!;
    expect(conf).toContain('{ name: "eu-west", urls: ["tls://203.0.113.20:7222"] }');
    expect(conf).toContain('advertise: "nats.us-east.example.com:7222"');
  });

  it('puts the credentials in secrets, and a NATS certificate valid for the Services and the public address', () => {
    const [creds, tls] = docs(files, 'k8s/us-east/secrets.yaml');
    expect(Object.keys(creds!.stringData!).sort()).toEqual(['admin-token', 'auth-secret', 'ca.pem', 'nats.nk', 'worker-token']);
    expect(creds!.stringData!['nats.nk']).toMatch(/^SU[A-Z2-7]+\n$/);
    const [credsEu] = docs(files, 'k8s/eu-west/secrets.yaml');
    expect(credsEu!.stringData!['auth-secret']).toBe(creds!.stringData!['auth-secret']);
    const cert = new X509Certificate(tls!.stringData!['tls.crt']!);
    expect(cert.subjectAltName).toContain('DNS:nats-us-east.rt-prod.svc.cluster.local');
    expect(cert.subjectAltName).toContain('DNS:*.nats-us-east-headless.rt-prod.svc.cluster.local');
    expect(cert.subjectAltName).toContain('DNS:nats.us-east.example.com');
    expect(cert.verify(new X509Certificate(tls!.stringData!['ca.pem']!).publicKey)).toBe(true);
  });
});

const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));
if (NATS === undefined && process.env['CI'] === 'true') throw new Error('CI=true but nats-server is not installed');
describe.skipIf(NATS === undefined)('k8s: the NATS config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-k8s-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is accepted by nats-server -t for both example topologies (paths moved into a temp dir)', async () => {
    for (const file of ['examples/meridian.yaml', 'examples/five-regions.yaml']) {
      const t = await loadTopology(file);
      const files = await planK8s(planContext(t));
      const region = t.regions[0]!.name;
      const conf = docs(files, `k8s/${region}/nats.yaml`)[0]!.data!['nats.conf']!;
      const [, tls] = docs(files, `k8s/${region}/secrets.yaml`);
      mkdirSync(join(dir, 'tls'), { recursive: true });
      for (const [k, v] of Object.entries(tls!.stringData!)) writeFileSync(join(dir, 'tls', k), v);
      const path = join(dir, 'nats.conf');
      writeFileSync(path, conf.replaceAll('/etc/nats/tls', join(dir, 'tls')).replaceAll('/data/jetstream', join(dir, 'js')).replaceAll('/var/run/nats', dir));
      const { stdout, stderr } = await run(NATS!, ['-t', '-c', path]);
      expect(stdout + stderr).toMatch(/configuration file .* is valid/);
    }
  });
});
