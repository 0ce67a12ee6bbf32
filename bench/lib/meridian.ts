/**
 * The Meridian side of the messaging benches: region nodes started in the bench's server process
 * on the embedded bus, wired as a deployment would be — SQLite message log (WAL, on a temp file),
 * messaging, presence on the bus KV, the region node serving the client protocol at `/ws`.
 * Auth is dev mode (`auth { user }`) unless an HS256 secret is given. The only limit raised from
 * its default is the per-connection send rate, which a bench sender exceeds on purpose.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import type { Bus } from '../../src/bus/types.js';
import { openSqliteLog } from '../../src/log/mod.js';
import { createMessaging } from '../../src/messaging/mod.js';
import type { Messaging } from '../../src/messaging/mod.js';
import { startRegionNode } from '../../src/node/mod.js';
import type { RegionNode } from '../../src/node/mod.js';
import { createPresence } from '../../src/presence/mod.js';
import type { Presence } from '../../src/presence/mod.js';
import { defaultTopology, linkLatencyMs, sloTargetsFor } from '../../src/topology/mod.js';
import { NodeMetrics } from '../../src/observability/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';
import { InertNodeMetrics } from './inert-metrics.js';
import { trace } from '@opentelemetry/api';
import { AlwaysOffSampler, BasicTracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { StartedServer } from './ws-servers.js';
import type { Topology } from '../../src/topology/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { roomConversation } from '../../src/protocol/conversation.js';

export function meridianAvailable(): Promise<{ ok: true } | { ok: false; why: string }> {
  const node = new URL('../../src/node/mod.ts', import.meta.url);
  return Promise.resolve(existsSync(node) ? { ok: true } : { ok: false, why: 'the region node (src/node) does not exist yet' });
}

/** What a bench's Meridian side observes: the switch issue 13's cost is measured with. */
export interface Observability {
  /**
   * On (what a node runs in production): messaging counts sends, appends, deliveries and latency
   * into the node's metrics, the node counts frames and sessions. Off: messaging has no metrics
   * and the node's are inert (lib/inert-metrics.ts: every count a no-op), so nothing is collected.
   */
  readonly metrics: boolean;
  /**
   * With metrics on, a tracing SDK is registered (a BasicTracerProvider with no exporter: spans
   * are made, then dropped) recording this share of traces, 0 to 1: 0 is an SDK that samples
   * nothing (spans are non-recording), 0.01 a typical production ratio. Off: no SDK.
   */
  readonly traceRatio: number;
}

/**
 * `MERIDIAN_BENCH_METRICS=on|off` (default on) and `MERIDIAN_BENCH_TRACE_RATIO` (default 1: every
 * span recorded, then dropped): what a bench's Meridian side runs with when it is not told.
 */
export const envObservability: Observability = {
  metrics: (process.env['MERIDIAN_BENCH_METRICS'] ?? 'on') !== 'off',
  traceRatio: Number(process.env['MERIDIAN_BENCH_TRACE_RATIO'] ?? '1'),
};

/**
 * The two arms of `--metrics-compare`: off, and on with a registered SDK that samples nothing
 * (issue 13: "metrics on, and traces with a registered no-op SDK"); `MERIDIAN_BENCH_TRACE_RATIO`,
 * when set, gives the on arm another ratio, or `none`: metrics alone, no SDK (what the metrics
 * cost apart from the SDK's own work per root span).
 */
export function compareObservability(): { readonly off: Observability; readonly on: Observability } {
  const ratio = process.env['MERIDIAN_BENCH_TRACE_RATIO'];
  return { off: { metrics: false, traceRatio: 0 }, on: { metrics: true, traceRatio: ratio === undefined ? 0 : ratio === 'none' ? NO_SDK : Number(ratio) } };
}

/** traceRatio of "metrics on, no tracing SDK registered". */
const NO_SDK = -1;

/** What a report says about a mode. */
export function observabilityNote(o: Observability): string {
  if (o.metrics && o.traceRatio < 0) return 'metrics on, no tracing SDK';
  return o.metrics ? `metrics on, tracing SDK registered (no exporter, recording ${o.traceRatio >= 1 ? 'every trace' : o.traceRatio <= 0 ? 'nothing' : `a ${o.traceRatio} share of traces`})` : 'metrics off (inert node metrics, none in messaging), no tracing SDK';
}

/** The mode of the environment, for the benches' notes. */
export const benchMetricsNote = `${observabilityNote(envObservability)} (MERIDIAN_BENCH_METRICS=${envObservability.metrics ? 'on' : 'off'})`;

/** A mode as one command-line word for a role process (`off`, `on:0`, `on:0.01`), and back. */
export function observabilityArg(o: Observability): string {
  return o.metrics ? `on:${o.traceRatio < 0 ? 'none' : o.traceRatio}` : 'off';
}

export function parseObservability(arg: string | undefined): Observability {
  if (arg === undefined) return envObservability;
  if (arg === 'off') return { metrics: false, traceRatio: 0 };
  const m = /^on:([0-9.]+|none)$/.exec(arg);
  if (m === null) throw new Error(`--observe ${arg}: expected off, on:<ratio> or on:none`);
  return { metrics: true, traceRatio: m[1] === 'none' ? NO_SDK : Number(m[1]) };
}

/** The ratio of the SDK this process registered (undefined: none). The SDK is global: one mode per process. */
let registeredRatio: number | undefined;

function registerTracing(o: Observability): void {
  if (!o.metrics || o.traceRatio < 0) {
    if (registeredRatio !== undefined) throw new Error('no tracing SDK asked in a process that registered one: run each mode in its own process');
    return;
  }
  if (registeredRatio !== undefined) {
    if (registeredRatio !== o.traceRatio) throw new Error(`trace ratio ${o.traceRatio} asked in a process that registered ${registeredRatio}: run each mode in its own process`);
    return;
  }
  const sampler = o.traceRatio >= 1 ? undefined : o.traceRatio <= 0 ? new AlwaysOffSampler() : new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(o.traceRatio) });
  if (!trace.setGlobalTracerProvider(new BasicTracerProvider(sampler === undefined ? {} : { sampler }))) throw new Error('a tracing SDK was already registered in this process');
  registeredRatio = o.traceRatio;
}

/**
 * The default topology, with every conversation homed among `started` when the bench starts only
 * some of its regions: homes are fixed by hashing over every candidate region (src/placement),
 * so without the rule a room of a one-node bench is homed in a region that is not running (its
 * sends fail with "region … cannot be reached") and a replica is sought there.
 */
export function benchTopology(started: readonly string[]): Topology {
  const topology = defaultTopology();
  if (topology.regions.every((r) => started.includes(r.name))) return topology;
  return { ...topology, placement: { conversations: [{ match: '*', regions: [...started] }] } };
}

/**
 * A room name (`prefix`, else `prefix-1`, `prefix-2`, …) whose conversation is homed in `home`
 * when the regions `started` run (`benchTopology`), for a bench that needs the home at its sender:
 * a node sends one message per conversation and connection at a time, so a sender whose home is
 * a link away sends at most one message per round trip.
 */
export function roomHomedIn(home: string, started: readonly string[], prefix: string): string {
  const placement = new ConversationPlacement(benchTopology(started));
  for (let i = 0; i < 1000; i++) {
    const room = i === 0 ? prefix : `${prefix}-${i}`;
    if (placement.homeOf(roomConversation(room)) === home) return room;
  }
  throw new Error(`no room ${prefix}-<n> is homed in ${home}`);
}

export interface NodeBenchOptions {
  /** HS256 secret for real tokens; without it the node runs with dev auth. */
  readonly secret?: string;
  /**
   * Regions to start a node in (of the default topology); default the first (`startNodeOnBus`:
   * the node's own). Conversations are homed among them only (`benchTopology`).
   */
  readonly regions?: readonly string[];
  /** One-way latency of every link; default the topology's. */
  readonly linkMs?: number;
  /** `file` (default: durable, fsync per commit) or `memory` (SQLite :memory:, to see what fsync costs). */
  readonly log?: 'file' | 'memory';
  /** Metrics and tracing; default from the environment (`envObservability`). */
  readonly observability?: Observability;
}

export interface MeridianRegions {
  readonly nodes: ReadonlyMap<string, RegionNode>;
  close(): Promise<void>;
}

/** A region node on `bus`: its SQLite log in `dir` (or in memory), messaging, presence. */
export async function startNodeOnBus(bus: Bus, region: string, dir: string, opts: NodeBenchOptions = {}): Promise<{ node: RegionNode; close(): Promise<void> }> {
  const topology = benchTopology(opts.regions ?? [region]);
  const name = `${region}-1`;
  const log = openSqliteLog({ path: opts.log === 'memory' ? ':memory:' : join(dir, `${region}.db`) });
  let messaging: Messaging | undefined;
  let presence: Presence | undefined;
  let node: RegionNode | undefined;
  const close = async (): Promise<void> => {
    await node?.close();
    await messaging?.close();
    await presence?.close();
    await log.close();
  };
  const observe = opts.observability ?? envObservability;
  const metricsOptions = { region, node: name, regions: topology.regions.map((r) => r.name), slo: sloTargetsFor(topology, region), log: silentLogger() };
  // Off: the node still needs a metrics object (it builds a counting one when given none).
  const metrics = observe.metrics ? new NodeMetrics(metricsOptions) : new InertNodeMetrics(metricsOptions);
  registerTracing(observe);
  try {
    messaging = await createMessaging({ bus, region, topology, log, ...(observe.metrics ? { metrics } : {}) });
    presence = await createPresence(bus, { node: name, regions: topology.regions.map((r) => r.name) });
    node = await startRegionNode({
      topology,
      region,
      node: name,
      bus,
      messaging,
      presence,
      auth: opts.secret === undefined ? { dev: true } : { hs256Secret: opts.secret },
      rateLimit: { ratePerSec: 1_000_000, burst: 1_000_000 },
      // Benches open thousands of connections from one address: the limiters stay on the path
      // (their cost is measured), the per-address upgrade limit out of reach.
      httpRateLimit: { ratePerSec: 1_000_000, burst: 1_000_000 },
      upgradeRateLimit: { ratePerSec: 1_000_000, burst: 1_000_000 },
      metrics,
    });
  } catch (err) {
    await close();
    throw err;
  }
  return { node, close };
}

export async function startMeridianRegions(opts: NodeBenchOptions = {}): Promise<MeridianRegions> {
  const topology = defaultTopology();
  const names = opts.regions ?? [topology.regions[0]?.name ?? 'us-east'];
  const linkMs = opts.linkMs;
  const network = new EmbeddedNetwork(
    topology.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })),
    { latencyMs: (a, b) => (a === b ? 0 : (linkMs ?? linkLatencyMs(topology, a, b))) },
  );
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-node-'));
  const nodes = new Map<string, RegionNode>();
  const parts: { bus: Bus; close(): Promise<void> }[] = [];
  const close = async (): Promise<void> => {
    for (const p of parts) {
      await p.close();
      await p.bus.close();
    }
    await network.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const region of names) {
      const bus = network.connect(region);
      const started = await startNodeOnBus(bus, region, dir, { ...opts, regions: names });
      parts.push({ bus, close: () => started.close() });
      nodes.set(region, started.node);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { nodes, close };
}

/** One region node as a bench server (fan-out, idle connections). */
export async function startMeridianNode(opts: NodeBenchOptions = {}): Promise<StartedServer & { regions: MeridianRegions }> {
  const regions = await startMeridianRegions(opts);
  const node = [...regions.nodes.values()][0];
  if (node === undefined) throw new Error('no node started');
  return { url: node.url, server: undefined, connections: () => node.sessions, close: () => regions.close(), regions };
}
