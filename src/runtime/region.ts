/**
 * One region, assembled: its message log, messaging, presence, HTTP modules and the region node
 * in front of them. `meridian region` runs one; `meridian up` and tests run every region of a
 * topology through deployment.ts. The log follows the bus: an embedded bus gets a SQLite file
 * (`<data>/<region>/messages.db`), a NATS bus gets JetStream streams homed in the region.
 */
import { join } from 'node:path';
import type { Bus } from '../bus/types.js';
import { NatsBus } from '../bus/nats/mod.js';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { openNatsLog, openSqliteLog } from '../log/mod.js';
import type { LogOptions, MessageLog } from '../log/mod.js';
import { createMessaging } from '../messaging/mod.js';
import type { Messaging } from '../messaging/mod.js';
import { NODE_DEFAULTS, startRegionNode } from '../node/mod.js';
import type { RegionNode, RegionNodeOptions } from '../node/mod.js';
import { createPresence } from '../presence/mod.js';
import type { Presence, PresenceOptions } from '../presence/mod.js';
import { retentionPolicy, sloTargetsFor } from '../topology/mod.js';
import { Residency } from '../residency/mod.js';
import type { Topology } from '../topology/mod.js';
import { NodeMetrics } from '../observability/metrics.js';
import { createLogger } from '../observability/logger.js';
import type { HttpModule } from '../module/http-module.js';
import { openAuditLog } from '../audit/mod.js';
import type { AuditLog } from '../audit/mod.js';
import { placed } from '../placement/mod.js';
import { RegionErasure } from '../erasure/mod.js';
import { listenerOf } from '../services/egress/listeners.js';
import type { Listener } from '../services/egress/listeners.js';

/** What a module factory gets: the region's parts, built before the node starts. */
export interface RegionParts {
  readonly topology: Topology;
  readonly region: string;
  readonly node: string;
  readonly bus: Bus;
  readonly log: MessageLog;
  readonly messaging: Messaging;
  readonly presence: Presence;
  /** The region's data directory, when it has one (embedded log, DLQ files). */
  readonly dataDir?: string;
  /** The node's metrics: modules register what they export (service callers, DLQ depth). */
  readonly metrics: NodeMetrics;
  /** The region's audit trail: modules record their admin-worthy actions (src/audit). */
  readonly audit: AuditLog;
  /**
   * The region nodes' listeners: this node's once it listens, and every region URL it knows
   * (the egress policy never lets a worker URL point there).
   */
  readonly listeners: () => readonly Listener[];
}

export interface StartRegionOptions {
  readonly topology: Topology;
  readonly region: string;
  readonly bus: Bus;
  /** Data directory for the embedded log (`<data>/<region>/messages.db`); `:memory:` keeps nothing. */
  readonly dataDir?: string;
  /** Use this log instead of opening one (tests). It is closed with the region. */
  readonly log?: MessageLog;
  /** Retention and dedupe of the log. */
  readonly logOptions?: LogOptions;
  readonly presence?: PresenceOptions;
  /** Erasure (src/erasure): how often every region's erasure bucket is looked at. Default 5000 ms. */
  readonly erasure?: { readonly intervalMs?: number };
  /** HTTP modules (services …), built once the region's parts exist. */
  readonly modules?: (parts: RegionParts) => readonly HttpModule[] | Promise<readonly HttpModule[]>;
  /** Everything else the node takes (port, host, auth, limits, timeouts, regionUrls …). */
  readonly node?: Omit<RegionNodeOptions, 'topology' | 'region' | 'bus' | 'messaging' | 'presence' | 'modules'>;
}

export interface RegionRuntime {
  readonly region: string;
  readonly url: string;
  readonly node: RegionNode;
  readonly log: MessageLog;
  readonly messaging: Messaging;
  readonly presence: Presence;
  /** The region's erasure service (`POST /v1/erasures`, docs/residency.md). */
  readonly erasure: RegionErasure;
  /** Drain the node (migrate clients away, bounded by its deadline), then close everything. */
  stop(opts?: { deadlineMs?: number }): Promise<void>;
  /**
   * Drain the node (clients get `migrate` and move make-before-break), close it and start a new
   * node (a new node id, its modules built again) on the same port over the same log, messaging
   * and presence: the region's data is untouched. `node` is the new one afterwards.
   */
  restart(opts?: { deadlineMs?: number }): Promise<void>;
  /** Close everything at once (open sessions get 4500). Idempotent; the bus is not closed. */
  close(): Promise<void>;
}

async function openLog(o: StartRegionOptions): Promise<MessageLog> {
  if (o.log) return o.log;
  // The topology's retention rules, the same in every region: a home and its replicas apply them alike.
  const residency = new Residency(o.topology);
  const retention = o.logOptions?.retention ?? retentionPolicy(o.topology, residency.active ? (c) => residency.retentionOf(c) : undefined);
  const logOptions: LogOptions = { ...o.logOptions, ...(retention === undefined ? {} : { retention }) };
  if (o.bus instanceof NatsBus) return openNatsLog({ ...logOptions, nc: o.bus.nc, name: placed.log(o.region).name, home: placed.log(o.region).region });
  if (o.dataDir === undefined) throw new MeridianError(ErrorCode.NodeInvalidConfig, 'the embedded log needs a data directory (dataDir), or ":memory:"');
  return openSqliteLog({ ...logOptions, path: o.dataDir === ':memory:' ? ':memory:' : join(o.dataDir, o.region, 'messages.db') });
}

export async function startRegion(o: StartRegionOptions): Promise<RegionRuntime> {
  const nodeId = o.node?.node ?? `${o.region}-${Math.random().toString(16).slice(2, 10)}`;
  const cleanup: (() => Promise<void>)[] = [];
  const undo = async (): Promise<void> => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  };
  try {
    const rawLog = await openLog(o);
    cleanup.push(() => rawLog.close());
    const metrics =
      o.node?.metrics ??
      new NodeMetrics({ region: o.region, node: nodeId, regions: o.topology.regions.map((r) => r.name), slo: sloTargetsFor(o.topology, o.region), log: createLogger({ base: { region: o.region, node: nodeId } }) });
    // JetStream with NATS; the data dir's SQLite with the embedded bus (its KV is in memory).
    const auditLog = await openAuditLog({ bus: o.bus, region: o.region, dataDir: o.bus instanceof NatsBus ? undefined : (o.dataDir ?? ':memory:'), onError: (err) => metrics.log.warn({ event: 'audit_write_failed', err: String(err) }, 'audit entry not written') });
    cleanup.push(() => auditLog.close());
    // Erasure erases in the log itself; everything else reads through the gate, which holds reads
    // back until this region has looked for erasures made while it was away (src/erasure).
    const erasure = new RegionErasure({
      bus: o.bus,
      region: o.region,
      node: nodeId,
      regions: o.topology.regions.map((r) => r.name),
      log: rawLog,
      dataDir: o.dataDir,
      audit: auditLog,
      ...(o.erasure?.intervalMs === undefined ? {} : { intervalMs: o.erasure.intervalMs }),
      onError: (err, where) => metrics.log.warn({ event: 'erasure_failed', where, err: String(err) }, 'erasure step failed; retried'),
    });
    cleanup.push(() => Promise.resolve(erasure.close()));
    const log = erasure.gate(rawLog);
    const messaging = await createMessaging({ bus: o.bus, region: o.region, topology: o.topology, log, metrics });
    cleanup.push(() => messaging.close());
    const presence = await createPresence(o.bus, { ...o.presence, node: nodeId, regions: o.topology.regions.map((r) => r.name) });
    cleanup.push(() => presence.close());
    // The node's own port is known once it listens (port 0 picks one): modules read the list at
    // every check, so the node is in it from its first request on.
    const others: readonly Listener[] = Object.values(o.node?.regionUrls ?? {}).flatMap((u) => listenerOf(u) ?? []);
    let listeners = others;
    const parts: RegionParts = { topology: o.topology, region: o.region, node: nodeId, bus: o.bus, log, messaging, presence, metrics, audit: auditLog, listeners: () => listeners, ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }) };
    const modules = o.modules ? await o.modules(parts) : [];
    for (const m of modules) if (m.close) cleanup.push(() => m.close!());
    const targets = (ms: readonly HttpModule[]) => ms.filter((m) => m.eraseSubject !== undefined).map((m) => ({ eraseSubject: m.eraseSubject!.bind(m) }));
    erasure.setTargets(targets(modules));
    // Before the node serves anything: erase what was asked while this region was away.
    await erasure.start();
    // welcome.limits.dedupeWindowMs must be the log's window, whatever the log was opened with.
    const dedupe = o.logOptions?.dedupeWindowMs;
    const limits = dedupe === undefined ? o.node?.limits : { ...o.node?.limits, dedupeWindowMs: dedupe };
    // An edge-requested drain (POST /v1/admin/drain) restarts the region's node in place.
    let restartFromAdmin: () => Promise<void> = () => Promise.resolve();
    const nodeOptions = { ...o.node, ...(limits === undefined ? {} : { limits }), metrics, audit: auditLog, erasure, topology: o.topology, region: o.region, bus: o.bus, messaging, presence, onAdminDrain: () => restartFromAdmin() };
    let node = await startRegionNode({ ...nodeOptions, node: nodeId, modules });
    listeners = [{ host: o.node?.host ?? NODE_DEFAULTS.host, port: node.port }, ...others];
    let closing: Promise<void> | undefined;
    let restarting: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        await restarting?.catch(() => undefined);
        await node.close();
        erasure.close();
        // The node closed the modules; the rest in reverse order of opening.
        await auditLog.close().catch(() => undefined);
        await presence.close().catch(() => undefined);
        await messaging.close().catch(() => undefined);
        await log.close().catch(() => undefined);
      })());
    const restart = async (s: { deadlineMs?: number } = {}): Promise<void> => {
      const old = node;
      await old.drain(s);
      await old.close();
      if (closing) return;
      const id = `${o.region}-${Math.random().toString(16).slice(2, 10)}`;
      const again = o.modules ? await o.modules({ ...parts, node: id }) : [];
      erasure.setTargets(targets(again));
      // Same port: the edge and the other regions know the region by its URL.
      node = await startRegionNode({ ...nodeOptions, node: id, modules: again, port: old.port });
    };
    const runtime: RegionRuntime = {
      region: o.region,
      url: node.url,
      get node() {
        return node;
      },
      restart(s = {}) {
        restarting ??= restart(s).finally(() => (restarting = undefined));
        return restarting;
      },
      log,
      messaging,
      presence,
      erasure,
      async stop(s = {}) {
        await node.drain(s);
        await close();
      },
      close,
    };
    restartFromAdmin = () => runtime.restart();
    return runtime;
  } catch (err) {
    await undo();
    throw err;
  }
}
