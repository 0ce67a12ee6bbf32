/**
 * A region's node on Kubernetes: a StatefulSet (each pod keeps its data volume: the services DLQ
 * and local state under /var/lib/meridian), its headless Service, the public `LoadBalancer`
 * Service for WebSockets (ClientIP affinity, 3 h, so a reconnecting client returns to its pod),
 * a PodDisruptionBudget and a CPU HorizontalPodAutoscaler.
 *
 * Shutdown: preStop waits PRE_STOP_S so endpoints and load balancers stop sending new clients,
 * then SIGTERM makes `meridian region` drain (clients are told to migrate, up to the node's drain
 * deadline, DRAIN_DEADLINE_S); terminationGracePeriodSeconds is above both, so draining is never
 * cut short.
 */
import type { Topology } from '../../topology/mod.js';
import { NODE_CONTAINER_PORT, PRE_STOP_S, TERMINATION_GRACE_S, labels, metadata, natsName, nodeName, selector } from './names.js';
import type { Manifest } from './names.js';

/** Seconds a ClientIP-affine client stays on its pod (the maximum Kubernetes allows is 86400). */
export const AFFINITY_TIMEOUT_S = 3 * 3600;
export const CPU_TARGET_PERCENT = 70;
export const CREDENTIALS_DIR = '/etc/meridian/credentials';
export const TOPOLOGY_FILE = '/etc/meridian/topology/meridian.yaml';
export const DATA_DIR = '/var/lib/meridian';

export const credentialsSecret = (region: string): string => `${nodeName(region)}-credentials`;
export const topologyConfigMap = (): string => 'meridian-topology';

export function natsClientUrl(topology: Topology, region: string): string {
  return `tls://${natsName(region)}.${topology.deploy.kubernetes.namespace}.svc.cluster.local:${topology.deploy.nats.ports.client}`;
}

/**
 * `--region-urls`: the other regions' nodes as clients reach them (`deploy.kubernetes.nodeUrls`),
 * where a draining node sends its clients and what /v1/regions lists. Never `deploy.hosts`: on
 * Kubernetes that is the NATS gateway LoadBalancer, which serves no node. A region without a URL is
 * left out (k8s/README.md names it).
 */
export function regionUrls(topology: Topology, region: string): string[] {
  const urls = topology.deploy.kubernetes.nodeUrls;
  return topology.regions.filter((r) => r.name !== region && urls[r.name] !== undefined).map((r) => `${r.name}=${urls[r.name]!.replace(/\/+$/, '')}`);
}

export function nodeManifests(topology: Topology, region: string): Manifest[] {
  const k = topology.deploy.kubernetes;
  const name = nodeName(region);
  const meta = (n: string): Manifest['metadata'] => metadata(topology, n, 'region-node', region);
  const urls = regionUrls(topology, region);
  const args = [
    'region', region,
    '--config', TOPOLOGY_FILE,
    '--bus', 'nats',
    '--nats', natsClientUrl(topology, region),
    '--nats-nkey', `${CREDENTIALS_DIR}/nats.nk`,
    '--nats-ca', `${CREDENTIALS_DIR}/ca.pem`,
    '--host', '0.0.0.0',
    '--port', String(NODE_CONTAINER_PORT),
    '--data', DATA_DIR,
    ...(urls.length > 0 ? ['--region-urls', urls.join(',')] : []),
  ];
  const fromSecret = (env: string, key: string): Record<string, unknown> => ({ name: env, valueFrom: { secretKeyRef: { name: credentialsSecret(region), key } } });
  const statefulSet: Manifest = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(name),
    spec: {
      serviceName: `${name}-pods`,
      replicas: k.replicas,
      // Pods are independent (no quorum): start and replace them in parallel.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: selector('region-node', region) },
      template: {
        metadata: { labels: labels('region-node', region) },
        spec: {
          terminationGracePeriodSeconds: TERMINATION_GRACE_S,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 },
          containers: [
            {
              name: 'node',
              image: k.image,
              args,
              ports: [{ name: 'http', containerPort: NODE_CONTAINER_PORT, protocol: 'TCP' }],
              env: [fromSecret('MERIDIAN_AUTH_SECRET', 'auth-secret'), fromSecret('MERIDIAN_WORKER_TOKEN', 'worker-token'), fromSecret('MERIDIAN_ADMIN_TOKEN', 'admin-token')],
              readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 },
              livenessProbe: { httpGet: { path: '/health', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
              lifecycle: { preStop: { exec: { command: ['sh', '-c', `sleep ${PRE_STOP_S}`] } } },
              resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'data', mountPath: DATA_DIR },
                { name: 'credentials', mountPath: CREDENTIALS_DIR, readOnly: true },
                { name: 'topology', mountPath: '/etc/meridian/topology', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'credentials', secret: { secretName: credentialsSecret(region), defaultMode: 0o400 } },
            { name: 'topology', configMap: { name: topologyConfigMap() } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: labels('region-node', region) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(k.storageClass === undefined ? {} : { storageClassName: k.storageClass }),
            resources: { requests: { storage: k.dataSize } },
          },
        },
      ],
    },
  };
  const headless: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(`${name}-pods`),
    spec: { clusterIP: 'None', selector: selector('region-node', region), ports: [{ name: 'http', port: NODE_CONTAINER_PORT, targetPort: 'http' }] },
  };
  const publicService: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { ...meta(name), annotations: { 'meridian.dev/purpose': `WebSocket /ws and HTTP /v1/* for clients of this region (the edge or haproxy points here; set deploy.kubernetes.nodeUrls.${region} to its URL)` } },
    spec: {
      type: 'LoadBalancer',
      // Keep the client's source address (residency, rate limits) and skip the second hop.
      externalTrafficPolicy: 'Local',
      selector: selector('region-node', region),
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: AFFINITY_TIMEOUT_S } },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const pdb: Manifest = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(name),
    spec: { maxUnavailable: 1, selector: { matchLabels: selector('region-node', region) } },
  };
  const hpa: Manifest = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      ...meta(name),
      annotations: {
        'meridian.dev/connections-metric':
          'CPU only: scaling on connections needs a custom metrics adapter (e.g. prometheus-adapter exposing meridian_connections per pod); see k8s/README.md',
      },
    },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name },
      minReplicas: k.replicas,
      maxReplicas: Math.max(k.replicas, k.maxReplicas ?? 4 * k.replicas),
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: CPU_TARGET_PERCENT } } }],
      // Scale down slowly: each removed pod drains its clients onto the others.
      behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
    },
  };
  return [statefulSet, headless, publicService, pdb, hpa];
}

