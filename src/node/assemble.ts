/**
 * What a region node runs besides its listener, built once by server.ts: the context every
 * session and route shares, the lifecycle state, the view of the other regions, the watch on
 * its own bus, the session sweep, and the audit of keys-file reloads. `stopTimers` and `release`
 * undo it, in the order `close()` needs (timers first, the hub and the view once sessions are gone).
 */
import { createLogger } from '../observability/logger.js';
import { NodeMetrics } from '../observability/metrics.js';
import type { WelcomeLimits } from '../protocol/mod.js';
import { sloTargetsFor } from '../topology/mod.js';
import type { Authenticator } from './auth.js';
import { BusWatch } from './bus-watch.js';
import type { NodeContext, SessionRef } from './context.js';
import { evacuate, migrationTarget } from './drain.js';
import { Lifecycle } from './lifecycle.js';
import type { RegionNodeOptions, ResolvedNodeOptions } from './options.js';
import { PresenceHub } from './presence-hub.js';
import { RegionView } from './regions.js';
import type { NodeState } from './regions.js';
import { deliveryStats, regionRtts } from './stats.js';

export interface NodeParts {
  readonly ctx: NodeContext;
  readonly lifecycle: Lifecycle;
  readonly view: RegionView;
  readonly bus: BusWatch;
  /** This node's state as it answers other nodes' status requests and `GET /v1/regions`. */
  readonly self: () => NodeState;
  /** Stop the keys watch, the sweep, the region refresh and the bus watch. */
  readonly stopTimers: () => void;
  /** Close the presence hub and the region view (after the sessions are gone). */
  readonly release: () => void;
}

function defaultOnError(err: unknown, where: string): void {
  process.stderr.write(`meridian node: unexpected error in ${where}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
}

export function assembleNode(options: RegionNodeOptions, opts: ResolvedNodeOptions, auth: Authenticator): NodeParts {
  const modules = options.modules ?? [];
  const welcomeLimits: WelcomeLimits = { ...opts.limits };
  const sessions = new Set<SessionRef>();
  const metrics =
    options.metrics ??
    new NodeMetrics({ region: opts.region, node: opts.node, regions: opts.topology.regions.map((r) => r.name), slo: sloTargetsFor(opts.topology, opts.region), log: createLogger({ base: { region: opts.region, node: opts.node } }) });
  const lifecycle = new Lifecycle(modules);
  const ctx: NodeContext = {
    opts,
    messaging: options.messaging,
    presence: options.presence,
    auth,
    hub: new PresenceHub(options.presence),
    welcomeLimits,
    sessions,
    onInternalError: options.onError ?? defaultOnError,
    metrics,
    audit: options.audit,
    residencyTarget: async (user) => {
      const scope = auth.residency.ofUser(user);
      if (scope.mode !== 'strict' || scope.regions === undefined || scope.regions.includes(opts.region)) return undefined;
      const allowed = scope.regions;
      // `view` is made below; sessions ask only after they authenticated, long after.
      return migrationTarget(ctx, view, (r: string) => allowed.includes(r));
    },
  };
  const self = (): NodeState => ({ region: opts.region, node: opts.node, draining: lifecycle.draining, ready: lifecycle.ready(), sessions: sessions.size, ...deliveryStats(metrics) });
  const view = new RegionView(options.bus, opts.topology, self);
  metrics.setSources({
    connections: () => sessions.size,
    sessions: () => metrics.authenticatedSessions ?? sessions.size,
    draining: () => lifecycle.draining,
    rtt: () => regionRtts(view, opts.region),
  });
  // A reload of the keys file (a key added, revoked or edited) is an operator action: audited
  // by key id here, in this region's trail (src/keys/ring.ts notices it within a second).
  const unwatchKeys = opts.keys?.onChange((c) => {
    const actor = { kind: 'admin' as const, id: 'keys-file' };
    for (const id of c.added) options.audit?.record({ actor, action: 'keys.added', target: id, outcome: 'ok' });
    for (const id of c.removed) options.audit?.record({ actor, action: 'keys.removed', target: id, outcome: 'ok' });
    for (const id of c.changed) options.audit?.record({ actor, action: 'keys.changed', target: id, outcome: 'ok' });
  });

  // Losing the bus (bus-watch.ts): not ready and 503 at once; after two heartbeat intervals the
  // clients are sent to the nearest region last heard healthy (drain.ts, evacuate), else 4505.
  const bus = new BusWatch(options.bus, {
    graceMs: 2 * opts.heartbeatMs,
    retryAfterS: Math.max(1, Math.ceil(opts.heartbeatMs / 1000)),
    onStatus: (type) => metrics.busStatus(type),
    onChange(up) {
      lifecycle.setBusUp(up);
      view.setBusUp(up);
    },
    onLost() {
      if (!lifecycle.accepting) return;
      const deadlineMs = Math.min(opts.drainDeadlineMs, Math.max(1000, 2 * opts.heartbeatMs));
      evacuate(ctx, view, deadlineMs, () => bus.up || lifecycle.closed || lifecycle.down).catch((err: unknown) => ctx.onInternalError(err, 'evacuate'));
    },
  });
  // What the node knows of the other regions when its bus goes: asked again every few seconds.
  const refresh = setInterval(() => void view.refresh(), Math.max(500, Math.min(5000, opts.heartbeatMs)));
  refresh.unref();
  void view.refresh();

  // Idle, auth-timeout and token-expiry checks of every session, a few times per shortest timeout.
  const sweepMs = Math.max(10, Math.min(1000, Math.floor(Math.min(opts.authTimeoutMs, opts.idleTimeoutMs) / 4)));
  const sweep = setInterval(() => {
    const now = performance.now();
    const wall = Date.now();
    for (const s of sessions) s.sweep(now, wall);
  }, sweepMs);
  sweep.unref();

  return {
    ctx,
    lifecycle,
    view,
    bus,
    self,
    stopTimers: () => {
      unwatchKeys?.();
      clearInterval(sweep);
      clearInterval(refresh);
      bus.close();
    },
    release: () => {
      ctx.hub.close();
      view.close();
    },
  };
}
