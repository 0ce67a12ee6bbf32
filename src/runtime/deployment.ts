/**
 * Every region of a topology in this process: the buses (embedded WAN, or one NATS connection
 * per region), one region runtime each on its own port, and the switches tests and
 * `meridian up` need (take a region down and bring it back, drain, close).
 *
 *   const d = await startEmbeddedDeployment(defaultTopology());
 *   d.urls['eu-west']   // http://127.0.0.1:PORT  (ws://…/ws for clients; dev auth is on)
 *   await d.close();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmbeddedNetwork } from '../bus/embedded/mod.js';
import type { Bus } from '../bus/types.js';
import type { Topology } from '../topology/mod.js';
import { startRegionBuses } from './buses.js';
import type { BusKind, NatsCredentials, RegionBuses } from './buses.js';
import { startRegion } from './region.js';
import type { RegionRuntime, StartRegionOptions } from './region.js';

export interface DeploymentOptions {
  /** embedded (default) or nats (then `nats` or the topology names each region's servers). */
  readonly bus?: BusKind;
  /** With `bus: 'nats'`: `region=url,…` overriding the topology's urls. */
  readonly nats?: string;
  /** With `bus: 'nats'`: each region's NKEY seed and CA (`meridian up --nats-nkey/--nats-ca`). */
  readonly natsAuth?: Readonly<Record<string, NatsCredentials>>;
  /** Where the embedded logs live; default a temp dir removed by `close()`. `:memory:` keeps nothing. */
  readonly dataDir?: string;
  /** First region's port, the next ones follow (7701, 7702 …); 0 (default): free ports. */
  readonly portBase?: number;
  readonly host?: string;
  /** Options for every region (node options, log retention, presence timings, modules). */
  readonly region?: Omit<StartRegionOptions, 'topology' | 'region' | 'bus' | 'dataDir'>;
  /** Per-region overrides of `region`, e.g. a different node option in one region. */
  readonly perRegion?: (region: string) => Partial<Omit<StartRegionOptions, 'topology' | 'region' | 'bus' | 'dataDir'>>;
  /** Tests: the bus each region's runtime gets, made from the region's real one (e.g. `tapBus` of src/testing). */
  readonly wrapBus?: (region: string, bus: Bus) => Bus;
}

export interface Deployment {
  readonly topology: Topology;
  /** Base URL of each region's node. */
  readonly urls: Readonly<Record<string, string>>;
  readonly regions: ReadonlyMap<string, RegionRuntime>;
  readonly buses: RegionBuses;
  /** The simulated WAN (embedded bus only). */
  readonly network: EmbeddedNetwork | undefined;
  readonly dataDir: string;
  /** ws://host:port/ws of a region. */
  wsUrl(region: string): string;
  region(name: string): RegionRuntime;
  /** Take a region out: its bus links die (embedded) and its node stops answering. */
  takeDown(region: string): Promise<void>;
  bringUp(region: string): Promise<void>;
  /**
   * Drain one region (its clients get `migrate` to a ready region and move make-before-break),
   * then restart its node — a new node id, the same data and port — so it rejoins. Resolves once
   * the new node listens. Other regions keep serving throughout.
   */
  drainRegion(region: string, opts?: { deadlineMs?: number }): Promise<void>;
  /** Drain every region (clients are told to migrate), then close. */
  stop(opts?: { deadlineMs?: number }): Promise<void>;
  /** Close every region and bus; removes the data dir if it was a temp dir. Idempotent. */
  close(): Promise<void>;
}

export async function startDeployment(topology: Topology, opts: DeploymentOptions = {}): Promise<Deployment> {
  const kind = opts.bus ?? 'embedded';
  const temp = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'meridian-data-'));
  const buses = await startRegionBuses(topology, kind, opts.nats, opts.natsAuth);
  const urls: Record<string, string> = {};
  const regions = new Map<string, RegionRuntime>();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all([...regions.values()].map((r) => r.close().catch(() => undefined)));
      await buses.close().catch(() => undefined);
      if (temp) rmSync(dataDir, { recursive: true, force: true });
    })());
  try {
    let i = 0;
    for (const r of topology.regions) {
      const base = opts.region ?? {};
      const extra = opts.perRegion?.(r.name) ?? {};
      const port = opts.portBase === undefined || opts.portBase === 0 ? 0 : opts.portBase + i;
      i++;
      const runtime = await startRegion({
        ...base,
        ...extra,
        topology,
        region: r.name,
        bus: opts.wrapBus === undefined ? buses.buses.get(r.name)! : opts.wrapBus(r.name, buses.buses.get(r.name)!),
        dataDir,
        node: {
          auth: { dev: true },
          ...base.node,
          ...extra.node,
          port,
          ...(opts.host === undefined ? {} : { host: opts.host }),
          // Filled in below once every node listens: the nodes read it when they need it.
          regionUrls: urls,
        },
      });
      regions.set(r.name, runtime);
      urls[r.name] = runtime.url;
    }
  } catch (err) {
    await close();
    throw err;
  }
  const get = (name: string): RegionRuntime => {
    const r = regions.get(name);
    if (!r) throw new RangeError(`no region ${name} in this deployment`);
    return r;
  };
  return {
    topology,
    urls,
    regions,
    buses,
    network: buses.network,
    dataDir,
    wsUrl: (region) => `${get(region).url.replace(/^http/, 'ws')}/ws`,
    region: get,
    async takeDown(region) {
      const r = get(region);
      buses.network?.kill(region);
      await r.node.takeDown();
    },
    async bringUp(region) {
      const r = get(region);
      buses.network?.revive(region);
      await r.node.bringUp();
    },
    drainRegion(region, s = {}) {
      return get(region).restart(s);
    },
    async stop(s = {}) {
      await Promise.all([...regions.values()].map((r) => r.node.drain(s)));
      await close();
    },
    close,
  };
}

/** All regions of `topology` on the embedded bus, on free ports, with dev auth: for tests. */
export function startEmbeddedDeployment(topology: Topology, opts: Omit<DeploymentOptions, 'bus' | 'nats' | 'natsAuth'> = {}): Promise<Deployment> {
  return startDeployment(topology, { ...opts, bus: 'embedded' });
}
