/**
 * Moving a node's clients elsewhere: on drain, and when the node lost its bus.
 *
 * Drain: stop taking new work, move every client elsewhere, then stop.
 *
 * 1. `/ready` answers 503 and new upgrades are refused (the edge stops steering here);
 * 2. every session gets `migrate` with the nearest other region that answers now (asked
 *    fresh, not from the 2 s cache), is ready and is not draining itself (great-circle
 *    distance), and its URL. When no region qualifies — a full shutdown, every other region
 *    draining or down — there is nowhere to go: no `migrate` is sent (it would only send clients
 *    to a region about to close) and the sessions are closed 4500 SERVER_DRAINING at once, with
 *    a reason that says so; the clients reconnect with backoff wherever they can;
 * 3. wait for the clients to leave, up to the deadline, delivering on the draining connections
 *    meanwhile: a client moves make-before-break (connects there, re-joins, resumes, then
 *    closes here), so its peers see no leave/rejoin and nothing is lost. Then close the rest
 *    4500 SERVER_DRAINING (they reconnect and resume too);
 * 4. drain the HTTP modules with what is left of the deadline.
 *
 * Bus lost (`evacuate`, see bus-watch.ts): the same steps 2–3 with `reason: "region_unavailable"`
 * and close code 4505 REGION_UNAVAILABLE, but the region is picked from what the node last heard
 * while its bus was up (it cannot ask now), and the wait ends early when the bus comes back:
 * whoever is still here is served again.
 */
import { CloseCode } from '../protocol/mod.js';
import type { HttpModule } from '../module/http-module.js';
import type { NodeContext, SessionRef } from './context.js';
import type { RegionState, RegionView } from './regions.js';
import { wsUrl } from './regions.js';

export interface MigrationTarget {
  readonly region: string;
  readonly url: string;
}

const healthy = (st: RegionState | undefined): boolean => st?.reachable === true && st.nodes.length > 0 && st.nodes.some((n) => !n.draining && n.ready !== false);

/** The nearest other region with a URL whose state (as `stateOf` tells) is healthy, among `allowed`; undefined when none. */
function nearestHealthy(ctx: NodeContext, view: RegionView, stateOf: (region: string) => RegionState | undefined, allowed: (region: string) => boolean = () => true): MigrationTarget | undefined {
  const urls = ctx.opts.regionUrls;
  const pick = view.othersByDistance().find((r) => urls[r] !== undefined && allowed(r) && healthy(stateOf(r)));
  return pick === undefined ? undefined : { region: pick, url: wsUrl(urls[pick]!) };
}

/** Where to send clients: the nearest other region (among `allowed`) that answers, is ready and is not draining; undefined when none. */
export async function migrationTarget(ctx: NodeContext, view: RegionView, allowed: (region: string) => boolean = () => true): Promise<MigrationTarget | undefined> {
  // Without a bus nothing can be asked: what was last heard is all there is.
  if (!view.busUp) return nearestHealthy(ctx, view, (r) => view.lastKnown(r), allowed);
  const urls = ctx.opts.regionUrls;
  const others = view.othersByDistance().filter((r) => urls[r] !== undefined && allowed(r));
  const states = new Map(await Promise.all(others.map(async (r) => [r, await view.state(r, { fresh: true })] as const)));
  return nearestHealthy(ctx, view, (r) => states.get(r), allowed);
}

/** The nearest other region last heard healthy while this node's bus was up. */
export function lastKnownTarget(ctx: NodeContext, view: RegionView): MigrationTarget | undefined {
  return nearestHealthy(ctx, view, (r) => view.lastKnown(r));
}

interface Move {
  readonly reason: 'drain' | 'region_unavailable';
  readonly code: number;
  readonly closeReason: string;
  /** Stop waiting (and close nobody) once this holds. */
  readonly cancelled?: () => boolean;
}

/**
 * `migrate` every session in `moving` to `target` (a user under a strict residency rule that
 * excludes it: to the nearest region the rule allows, `strictTarget`; none: closed at once, to
 * reconnect through the edge), wait for them to leave until `end`, then close those left.
 */
async function moveSessions(ctx: NodeContext, moving: readonly SessionRef[], target: MigrationTarget, end: number, how: Move, strictTarget?: (allowed: readonly string[]) => Promise<MigrationTarget | undefined>): Promise<void> {
  const left = Math.max(0, Math.round(end - performance.now()));
  const byRule = new Map<string, Promise<MigrationTarget | undefined>>();
  await Promise.all(
    moving.map(async (s) => {
      const scope = s.user === undefined ? undefined : ctx.auth.residency.ofUser(s.user);
      let to: MigrationTarget | undefined = target;
      if (scope?.mode === 'strict' && scope.regions !== undefined && !scope.regions.includes(target.region)) {
        const allowed = scope.regions;
        const key = allowed.join(',');
        if (!byRule.has(key)) byRule.set(key, strictTarget?.(allowed) ?? Promise.resolve(undefined));
        to = await byRule.get(key);
      }
      if (to === undefined) s.close(how.code, `${how.closeReason}; no region your residency rules allow is ready: reconnect`);
      else s.migrate({ reason: how.reason, suggestedRegion: to.region, url: to.url, deadlineMs: left });
    }),
  );
  const stillHere = (): boolean => moving.some((s) => ctx.sessions.has(s));
  while (stillHere() && performance.now() < end && how.cancelled?.() !== true) await new Promise((r) => setTimeout(r, 25));
  if (how.cancelled?.() === true) return;
  for (const s of moving) if (ctx.sessions.has(s)) s.close(how.code, how.closeReason);
}

export async function drainSessions(ctx: NodeContext, view: RegionView, modules: readonly HttpModule[], deadlineMs: number): Promise<void> {
  const end = performance.now() + deadlineMs;
  if (ctx.sessions.size > 0) {
    const target = await migrationTarget(ctx, view);
    if (target === undefined) {
      for (const s of [...ctx.sessions]) s.close(CloseCode.SERVER_DRAINING, 'the node is shutting down and no other region is ready: nowhere to migrate');
    } else {
      await moveSessions(ctx, [...ctx.sessions], target, end, { reason: 'drain', code: CloseCode.SERVER_DRAINING, closeReason: 'the node is shutting down' }, (allowed) => migrationTarget(ctx, view, (r) => allowed.includes(r)));
    }
  }
  const rest = Math.max(0, Math.round(end - performance.now()));
  await Promise.all(modules.map(async (m) => m.drain?.(rest)));
}

/**
 * The bus has been down too long: send every client to the nearest region last known healthy
 * (make-before-break, up to `deadlineMs`), or, knowing none, close them 4505 at once so they
 * reconnect (through the edge) wherever they can. `busBack` ends the wait: those still here stay.
 */
export async function evacuate(ctx: NodeContext, view: RegionView, deadlineMs: number, busBack: () => boolean): Promise<void> {
  if (ctx.sessions.size === 0) return;
  const target = lastKnownTarget(ctx, view);
  const sessions = [...ctx.sessions];
  ctx.metrics.log.warn(
    { event: 'bus_lost', sessions: sessions.length, to: target?.region ?? null },
    target === undefined ? 'bus lost: no region known healthy, clients closed 4505' : `bus lost: clients told to migrate to ${target.region}`,
  );
  if (target === undefined) {
    for (const s of sessions) s.close(CloseCode.REGION_UNAVAILABLE, 'this node lost its bus and knows no healthy region: reconnect');
    return;
  }
  const end = performance.now() + deadlineMs;
  await moveSessions(ctx, sessions, target, end, { reason: 'region_unavailable', code: CloseCode.REGION_UNAVAILABLE, closeReason: 'this node lost its bus', cancelled: busBack }, (allowed) => Promise.resolve(nearestHealthy(ctx, view, (r) => view.lastKnown(r), (r) => allowed.includes(r))));
}
