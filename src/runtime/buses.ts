/**
 * Attach one bus per region of a topology: the embedded network (all regions in this process,
 * WAN latency from the topology) or a NATS connection per region to that region's cluster.
 * The runtime above sees only `Bus`.
 */
import { EmbeddedNetwork } from '../bus/embedded/mod.js';
import { connectNatsBus } from '../bus/nats/mod.js';
import type { Bus } from '../bus/types.js';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { linkLatencyMs } from '../topology/mod.js';
import type { Topology } from '../topology/mod.js';

export type BusKind = 'embedded' | 'nats';

/** How a region logs in to its NATS cluster (`meridian plan`'s NKEY seed and CA). */
export interface NatsCredentials {
  /** NKEY user seed (`SU…`). */
  readonly nkeySeed?: string;
  /** PEM CA that signed the servers' certificates; turns TLS on. */
  readonly tls?: { readonly ca: string };
}

export interface RegionBuses {
  readonly kind: BusKind;
  readonly buses: ReadonlyMap<string, Bus>;
  /** The simulated WAN, for the embedded bus only (kill, cut, latency switches). */
  readonly network?: EmbeddedNetwork;
  close(): Promise<void>;
}

/** Parse `region=url,region=url` (urls of one region may repeat the region name). */
export function parseNatsOverride(spec: string, topology: Topology): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const region = part.slice(0, eq);
    if (eq <= 0 || !topology.regions.some((r) => r.name === region)) {
      throw new MeridianError(ErrorCode.InvalidArgument, `--nats: expected region=url with a region of the topology, got "${part}"`);
    }
    out.set(region, [...(out.get(region) ?? []), part.slice(eq + 1)]);
  }
  return out;
}

export async function startRegionBuses(topology: Topology, kind: BusKind, natsSpec?: string, natsAuth?: Readonly<Record<string, NatsCredentials>>): Promise<RegionBuses> {
  const buses = new Map<string, Bus>();
  if (kind === 'embedded') {
    const network = new EmbeddedNetwork(
      topology.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })),
      { latencyMs: (a, b) => linkLatencyMs(topology, a, b) },
    );
    for (const r of topology.regions) buses.set(r.name, network.connect(r.name));
    return {
      kind,
      buses,
      network,
      async close() {
        await Promise.all([...buses.values()].map((b) => b.close()));
        await network.close();
      },
    };
  }
  const override = natsSpec ? parseNatsOverride(natsSpec, topology) : new Map<string, string[]>();
  const close = async (): Promise<void> => {
    await Promise.all([...buses.values()].map((b) => b.close()));
  };
  try {
    for (const r of topology.regions) {
      const servers = override.get(r.name) ?? r.nats;
      if (servers.length === 0) {
        throw new MeridianError(ErrorCode.InvalidArgument, `region ${r.name} has no NATS urls: set regions[].nats in the topology or pass --nats ${r.name}=nats://host:4222`);
      }
      const auth = natsAuth?.[r.name];
      buses.set(r.name, await connectNatsBus({ region: r.name, servers, name: `meridian-${r.name}`, ...(auth?.nkeySeed === undefined ? {} : { nkeySeed: auth.nkeySeed }), ...(auth?.tls === undefined ? {} : { tls: { ca: auth.tls.ca } }) }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { kind, buses, close };
}
