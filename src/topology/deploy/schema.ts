/**
 * The `deploy:` section of `meridian.yaml`: what `meridian plan` needs beyond the runtime
 * topology (server counts, ports, overlay addressing, Kubernetes names). Every field has a
 * default, so a topology without `deploy:` still plans. Each target's part lives in its own
 * schema so the generators can grow independently; cross-checks (CIDR overlaps, even JetStream
 * server counts, port collisions) are done by the planner, which reports located problems.
 */
import { z } from 'zod';

const port = z.number().int().min(1, 'ports are 1-65535').max(65535, 'ports are 1-65535');

/** `http(s)://host[:port][/path]`, no comma (it goes into a `region=url,…` list). */
function isNodeUrl(text: string): boolean {
  if (text.includes(',') || !URL.canParse(text)) return false;
  const u = new URL(text);
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.search === '' && u.hash === '';
}

export const NatsDeploySchema = z.strictObject({
  /** nats-server processes per region (default 1). The JetStream meta group spans all of them. */
  serversPerRegion: z.union([z.number().int().min(1), z.record(z.string(), z.number().int().min(1))]).default(1),
  /** Accept an even total of JetStream servers (a split brain loses quorum); default false. */
  allowEvenServers: z.boolean().default(false),
  ports: z
    .strictObject({ client: port.default(4222), cluster: port.default(6222), gateway: port.default(7222), monitor: port.default(8222) })
    .default({ client: 4222, cluster: 6222, gateway: 7222, monitor: 8222 }),
  /** Operator-provided TLS material instead of a generated CA (PEM file paths). */
  tls: z.strictObject({ ca: z.string(), cert: z.string(), key: z.string() }).optional(),
});

export const VpnDeploySchema = z.strictObject({
  kind: z.enum(['nebula', 'wireguard', 'none']).default('nebula'),
  /** The overlay network; each region gets one /24 (or `regions.<name>`) inside it. */
  cidr: z.string().default('10.77.0.0/16'),
  /** Per-region overlay CIDRs, overriding the derived ones. */
  regions: z.record(z.string(), z.string()).default({}),
  /** Pinned overlay IPs by host name (e.g. `us-east-nats-0: 10.77.1.10`). */
  pins: z.record(z.string(), z.string()).default({}),
  /** UDP port Nebula listens on. */
  port: port.default(4242),
  /**
   * Underlay (public) address of a host, by host name: `ip` or `ip:port` (default port: `port`).
   * Lighthouses need one; a region's lighthouse defaults to `deploy.hosts.<region>`.
   */
  underlay: z.record(z.string(), z.string()).default({}),
  /**
   * Operator hosts on the mesh (`ops-<n>`, overlay .10+n of the first /24): where `meridian
   * doctor` and a metrics scraper run. Their group may read the NATS monitoring and client ports
   * and the region nodes' port.
   */
  opsHosts: z.number().int().min(0).max(10).default(1),
  /** Edge hosts on the mesh (`edge-<n>`, overlay .20+n of the first /24): haproxy or `meridian edge`. Their group may reach the region nodes' port only. */
  edgeHosts: z.number().int().min(0).max(80).default(1),
});

export const KubernetesDeploySchema = z.strictObject({
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace is a DNS label').default('meridian'),
  image: z.string().min(1).default('meridian:0.1.0'),
  /** Region node replicas per region. */
  replicas: z.number().int().min(1).default(2),
  /** Most region node replicas the CPU autoscaler may run per region (default: 4 × replicas). */
  maxReplicas: z.number().int().min(1).optional(),
  /** Size of each region node's data volume (DLQ, local state) and storage class (cluster default). */
  dataSize: z.string().regex(/^\d+(Mi|Gi|Ti)$/, 'sizes look like 1Gi').default('1Gi'),
  storageClass: z.string().optional(),
  /**
   * Where clients reach each region's node, by region: the address of its `meridian-<region>`
   * LoadBalancer Service (`http://IP`, port 80) or the https URL of what terminates TLS in front
   * of it. The other regions' nodes send clients there (`--region-urls`: migrate, /v1/regions).
   * Not `deploy.hosts`, which on Kubernetes is the NATS gateway LoadBalancer.
   */
  nodeUrls: z.record(z.string(), z.string().refine(isNodeUrl, 'a node URL looks like https://us.example.com or http://203.0.113.10 (no query, no comma)')).default({}),
});

export const DeploySchema = z.strictObject({
  /** Public address (DNS name or IP) per region, where the other regions reach it. */
  hosts: z.record(z.string(), z.string()).default({}),
  nats: NatsDeploySchema.default(NatsDeploySchema.parse({})),
  vpn: VpnDeploySchema.default(VpnDeploySchema.parse({})),
  kubernetes: KubernetesDeploySchema.default(KubernetesDeploySchema.parse({})),
});

export type DeployConfig = z.output<typeof DeploySchema>;
