/**
 * A small multi-region mesh for the services tests: one bus per region (embedded network or a
 * real NATS super-cluster), the services module of each region mounted in a node:http server on
 * 127.0.0.1 (the way a region node mounts it), and helpers to start HTTP stand-in workers.
 */
import type { RequestInfo } from '../../src/module/http-module.js';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { connectNatsBus } from '../../src/bus/nats/mod.js';
import type { Bus } from '../../src/bus/types.js';
import { createServicesModule } from '../../src/services/mod.js';
import type { ServicesModule, ServicesModuleOptions } from '../../src/services/mod.js';
import { startSuperCluster } from '../../src/testing/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { REGIONS, latencyMs } from '../bus/nats-env.js';

// The module alone, without a node in front: every request comes as the operator would
// (access rules are tested through a real node in test/services/access.test.ts).
const OPERATOR: RequestInfo = { caller: () => Promise.resolve({ kind: 'admin' }) };

export const TOKEN = 'test-registration-token-0123456789';
export type BusKind = 'embedded' | 'nats';

/** The test topology: the three regions of nats-env with the same link latencies, plus `extra` YAML. */
export function meshTopology(extra = ''): Topology {
  const places: Record<string, [number, number]> = { 'us-east': [39, -77], 'eu-west': [53, -6], 'ap-southeast': [1, 103] };
  const regions = REGIONS.map((r) => `  - name: ${r}\n    location: { lat: ${places[r]![0]}, lon: ${places[r]![1]} }\n    jurisdiction: US\n`).join('');
  const links = [
    ['us-east', 'eu-west'],
    ['eu-west', 'ap-southeast'],
    ['us-east', 'ap-southeast'],
  ]
    .map(([a, b]) => `    - { between: [${a}, ${b}], oneWayMs: ${latencyMs(a!, b!)} }\n`)
    .join('');
  return parseTopology(`version: 1\nregions:\n${regions}wan:\n  links:\n${links}${extra}`);
}

export interface Mesh {
  readonly kind: BusKind;
  readonly topology: Topology;
  url(region: string): string;
  module(region: string): ServicesModule;
  bus(region: string): Bus;
  /** Take a region's bus down (embedded: kill the region; NATS: stop its server); its node keeps serving HTTP. */
  kill(region: string): Promise<void>;
  /** Bring it back, with its data. */
  revive(region: string): Promise<void>;
  close(): Promise<void>;
}

export interface MeshOptions {
  readonly kind: BusKind;
  readonly extraTopology?: string;
  readonly regions?: readonly string[];
  readonly module?: Partial<ServicesModuleOptions>;
  /** One-way latency of every inter-region link, in ms. Default: nats-env's (8, 20, 30 ms); the topology's RTTs stay those. */
  readonly linkMs?: number;
}

async function mount(mod: ServicesModule): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://node');
    Promise.resolve(mod.handle(req, res, url, OPERATOR))
      .then((took) => {
        if (!took) res.writeHead(404).end();
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function startMesh(o: MeshOptions): Promise<Mesh> {
  const topology = meshTopology(o.extraTopology);
  const regions = o.regions ?? REGIONS;
  const buses = new Map<string, Bus>();
  const links = (a: string, b: string): number => (a === b ? 0 : (o.linkMs ?? latencyMs(a, b)));
  let closeBus: () => Promise<void>;
  let kill: (region: string) => Promise<void>;
  let revive: (region: string) => Promise<void>;
  if (o.kind === 'embedded') {
    const net = new EmbeddedNetwork(
      REGIONS.map((name, i) => ({ name, lat: i, lon: i })),
      { latencyMs: links },
    );
    for (const r of regions) buses.set(r, net.connect(r));
    kill = (r) => Promise.resolve(net.kill(r));
    revive = (r) => Promise.resolve(net.revive(r));
    closeBus = async () => {
      await Promise.all([...buses.values()].map((b) => b.close()));
      await net.close();
    };
  } else {
    const sc = await startSuperCluster({ regions: REGIONS, latencyMs: links });
    for (const r of regions) buses.set(r, await connectNatsBus({ region: r, servers: [sc.url(r)], requestTimeoutMs: 3000 }));
    kill = (r) => sc.stop(r);
    revive = (r) => sc.start(r);
    closeBus = async () => {
      await Promise.all([...buses.values()].map((b) => b.close()));
      await sc.close();
    };
  }
  const modules = new Map<string, ServicesModule>();
  const servers = new Map<string, { server: Server; url: string }>();
  // One region after another (no region is special: each module opens its own region's workers
  // bucket and follows the others').
  for (const r of regions) {
    const mod = await createServicesModule({
      bus: buses.get(r)!,
      topology,
      registrationToken: TOKEN,
      rtt: latencyMs,
      // Test workers listen on loopback.
      egress: { allowLoopback: true },
      ...o.module,
      registry: { sweepIntervalMs: 0, ...o.module?.registry },
    });
    modules.set(r, mod);
    servers.set(r, await mount(mod));
  }
  return {
    kind: o.kind,
    topology,
    url: (r) => servers.get(r)!.url,
    module: (r) => modules.get(r)!,
    bus: (r) => buses.get(r)!,
    kill: (r) => kill(r),
    revive: (r) => revive(r),
    async close() {
      for (const s of servers.values()) {
        s.server.closeAllConnections();
        await new Promise((r) => s.server.close(r));
      }
      await Promise.all([...modules.values()].map((m) => m.close()));
      await closeBus();
    },
  };
}

export interface StandIn {
  readonly url: string;
  hits: number;
  close(): Promise<void>;
}

/** An HTTP worker stand-in on 127.0.0.1 with a handler; counts requests. */
export async function standIn(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<StandIn> {
  const state = { hits: 0 };
  const server = createServer((req, res) => {
    state.hits++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}

/** Register a worker over the HTTP API of a region node. */
export async function register(node: string, body: unknown, token = TOKEN): Promise<Response> {
  return fetch(`${node}/v1/workers`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Wait until `region`'s registry view offers `n` endpoints of `service`. */
export async function seesEndpoints(mesh: Mesh, region: string, service: string, n: number, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (mesh.module(region).registry.endpoints(service).length !== n) {
    if (Date.now() > end) throw new Error(`${region} never saw ${n} endpoints of ${service} (sees ${mesh.module(region).registry.endpoints(service).length})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
