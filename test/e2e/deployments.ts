/**
 * The deployments the end-to-end suites run on, behind one shape: three regions in this process
 * on the embedded bus, or the same three regions on a real NATS super-cluster (one nats-server
 * per region, 50 ms one way on every gateway link). Both run real region nodes (src/runtime);
 * only the bus differs. `killBus`/`reviveBus` take a region's bus away under a running node:
 * the embedded network's kill switch, or the region's nats-server stopped with SIGKILL.
 */
import { startDeployment, startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import type { SuperCluster } from '../../src/testing/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import type { DeploymentOptions } from '../../src/runtime/deployment.js';

export const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
export type Region = (typeof REGIONS)[number];

export interface E2eDeployment {
  readonly kind: 'embedded' | 'nats';
  readonly inner: Deployment;
  wsUrl(region: Region): string;
  /** The region's bus goes away under its running node (embedded kill / nats-server SIGKILL). */
  killBus(region: Region): Promise<void>;
  reviveBus(region: Region): Promise<void>;
  /** Cut the link between two regions (both ways; the embedded network, or the harness's gateway proxies), then restore it. */
  cut(a: Region, b: Region): Promise<void>;
  restore(a: Region, b: Region): Promise<void>;
  /** NATS: each region's server URL (suites that read the streams directly). */
  readonly natsUrls?: Readonly<Record<Region, string>>;
  close(): Promise<void>;
}

/** Region node options a suite may change (merged over the suites' defaults). */
export interface NodeTweaks {
  /** The nodes' heartbeat: they move their clients 2 heartbeats after losing their bus. */
  readonly heartbeatMs?: number;
  /** Embedded: keep the logs and files here instead of in memory (suites that read the files). */
  readonly dataDir?: string;
  /** More region options (API keys, modules, erasure timings), merged over the suites' defaults. */
  readonly region?: NonNullable<DeploymentOptions['region']>;
  /** The bus each region's runtime gets, made from its real one (e.g. `tapBus`, to record what a region saw). */
  readonly wrapBus?: DeploymentOptions['wrapBus'];
}

/** A deployment of the three regions; the topology defaults to the built-in one. */
export type DeploymentFactory = (topology?: Topology, tweaks?: NodeTweaks) => Promise<E2eDeployment>;

/**
 * The built-in topology with failover out of the way: for suites about a bus dying and coming
 * back, where a takeover (tested by the region-loss and failover suites) is not the subject.
 */
export function withoutQuickFailover(): Topology {
  const t = defaultTopology();
  return { ...t, replication: { ...t.replication, failoverAfterMs: 600_000 } };
}

// Presence grace shortened so offline events come within the test budget (the contract's
// 3 s default is a product choice, not what is under test).
const regionOptions = (tweaks: NodeTweaks = {}): DeploymentOptions['region'] => ({
  presence: { graceMs: 400, ttlMs: 5000 },
  ...tweaks.region,
  node: { auth: { dev: true }, ...(tweaks.heartbeatMs !== undefined ? { heartbeatMs: tweaks.heartbeatMs } : {}), ...tweaks.region?.node },
});

export const embeddedFactory: DeploymentFactory = async (topology = defaultTopology(), tweaks) => {
  const d = await startEmbeddedDeployment(topology, { dataDir: tweaks?.dataDir ?? ':memory:', region: regionOptions(tweaks), ...(tweaks?.wrapBus === undefined ? {} : { wrapBus: tweaks.wrapBus }) });
  return {
    kind: 'embedded',
    inner: d,
    wsUrl: (r) => d.wsUrl(r),
    killBus: (r) => Promise.resolve(d.network!.kill(r)),
    reviveBus: (r) => Promise.resolve(d.network!.revive(r)),
    cut: (a, b) => Promise.resolve(d.network!.cut(a, b)),
    restore: (a, b) => Promise.resolve(d.network!.restore(a, b)),
    close: () => d.close(),
  };
};

export const NATS_LINK_MS = 50;

export const natsFactory: DeploymentFactory = async (topology = defaultTopology(), tweaks) => {
  const sc: SuperCluster = await startSuperCluster({ regions: REGIONS, latencyMs: NATS_LINK_MS });
  let d: Deployment;
  try {
    d = await startDeployment(topology, { bus: 'nats', nats: REGIONS.map((r) => `${r}=${sc.url(r)}`).join(','), region: regionOptions(tweaks), ...(tweaks?.wrapBus === undefined ? {} : { wrapBus: tweaks.wrapBus }) });
  } catch (err) {
    await sc.close();
    throw err;
  }
  return {
    kind: 'nats',
    inner: d,
    wsUrl: (r) => d.wsUrl(r),
    killBus: (r) => sc.stop(r, { kill: true }),
    reviveBus: (r) => sc.start(r),
    cut: (a, b) => Promise.resolve(sc.cut(a, b)),
    restore: (a, b) => Promise.resolve(sc.restore(a, b)),
    natsUrls: Object.fromEntries(REGIONS.map((r) => [r, sc.url(r)])) as Record<Region, string>,
    async close() {
      await d.close();
      await sc.close();
    },
  };
};
