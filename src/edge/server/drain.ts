/**
 * Draining one region from the edge: `POST /v1/admin/regions/{name}/drain` (admin.ts checks the
 * credential and calls `drainRegion`). With an `onRegionDrain` hook (`meridian up` wires it to
 * the deployment, whose region restarts after the drain) the hook does the work; without one
 * the edge asks the region's node itself: `POST <node>/v1/admin/drain` with the credential the
 * request presented (an API key with the admin scope; else the edge's admin token), which makes
 * the node send `migrate` and wait for its clients (src/node/drain.ts).
 *
 * The edge marks the region `draining` from the request until the drain is over and the
 * monitor sees the region healthy again (at most `DRAIN_SETTLE_MS` more): `/v1/regions` shows
 * `draining` then `ready`, and `/v1/candidates` and steering leave the region out meanwhile —
 * before the probes would notice its `/ready` answering 503.
 */
import { bearer } from '../../http/bearer.js';
import type { EdgeContext } from './context.js';

/** After the drain itself, how long the region may take to be seen healthy before the mark goes. */
const DRAIN_SETTLE_MS = 30_000;

const drains = new WeakMap<EdgeContext, Map<string, Promise<void>>>();

function of(ctx: EdgeContext): Map<string, Promise<void>> {
  let m = drains.get(ctx);
  if (!m) {
    m = new Map();
    drains.set(ctx, m);
  }
  return m;
}

/** Regions the edge is draining now. */
export function drainingRegions(ctx: EdgeContext): Set<string> {
  return new Set(drains.get(ctx)?.keys() ?? []);
}

export type RegionStateName = 'ready' | 'draining' | 'down';

export function regionState(ctx: EdgeContext, region: string): RegionStateName {
  if (drains.get(ctx)?.has(region) === true) return 'draining';
  return ctx.urls.has(region) && ctx.monitor.health(region).healthy ? 'ready' : 'down';
}

/**
 * Ask the region's node to drain (no hook configured): its admin endpoint, with the credential
 * the operator's request presented (the node checks the same keys file), else our admin token.
 */
async function askNode(ctx: EdgeContext, region: string, authorization: string | undefined): Promise<void> {
  const base = ctx.urls.get(region);
  if (base === undefined) throw new Error(`no URL for region ${region}`);
  const token = ctx.options.adminToken;
  const auth = authorization !== undefined && bearer(authorization) !== undefined ? authorization : token ? `Bearer ${token}` : undefined;
  const res = await fetch(new URL('/v1/admin/drain', base), { method: 'POST', headers: auth === undefined ? {} : { authorization: auth } });
  const text = await res.text();
  if (!res.ok) throw new Error(`the node of ${region} answered ${res.status}: ${text.slice(0, 200)}`);
}

function untilHealthy(ctx: EdgeContext, region: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.monitor.health(region).healthy) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    const unsubscribe = ctx.monitor.subscribe((h) => {
      if (h.region === region && h.healthy) done();
    });
    function done(): void {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    }
  });
}

/**
 * Start draining `region` (a second request while one runs joins it). Resolves when the drain
 * has started; `done` settles when the region is back (or the drain failed: then it rejects).
 */
export function drainRegion(ctx: EdgeContext, region: string, authorization?: string): { started: boolean; done: Promise<void> } {
  const m = of(ctx);
  const running = m.get(region);
  if (running) return { started: false, done: running };
  const hook = ctx.options.onRegionDrain;
  const work = (async () => {
    if (hook) await hook(region);
    else await askNode(ctx, region, authorization);
    // The node restarted (or stays drained, on its own): wait until the monitor agrees.
    if (hook) await untilHealthy(ctx, region, DRAIN_SETTLE_MS);
  })();
  const done = work.finally(() => m.delete(region));
  done.catch(() => undefined);
  m.set(region, done);
  return { started: true, done };
}
