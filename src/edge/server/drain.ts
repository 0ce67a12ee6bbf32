/**
 * Draining one region from the edge: `POST /v1/admin/regions/{name}/drain` (admin.ts checks the
 * credential and calls `drainRegion`). With an `onRegionDrain` hook (`meridian up` wires it to
 * the deployment, whose region restarts after the drain) the hook does the work; without one
 * the edge asks the region's node itself: `POST <node>/v1/admin/drain` with the credential the
 * request presented (an API key with the admin scope; else the edge's admin token), which makes
 * the node send `migrate` and wait for its clients (src/node/drain.ts).
 *
 * The edge marks the region `draining` from the request until the region is back, so
 * `/v1/candidates` and steering leave it out meanwhile (before the probes would notice its
 * `/ready` answering 503) and `/v1/regions` shows `draining` then `ready`, never the monitor's
 * stale `ready` or the `down` of the restart in between:
 * - with the hook: until it resolved and a probe finished after that saw the region healthy (at
 *   most `DRAIN_SETTLE_MS` more);
 * - without it, a node that restarts in place (202 `{ restarting, node }`, a `meridian region`):
 *   until another node id answers its `/health`, its `/ready` is 200 and a probe finished after
 *   that saw it healthy;
 * - without it, a bare node (200 `{ drained }`: it stays drained): until the monitor sees it
 *   down (`draining` → `down`).
 * Without the hook the whole wait is bounded by the node's drain deadline (its answer says it;
 * the default deadline for a node that does not) plus `DRAIN_SETTLE_MS` from the request; a
 * restarting node not back by then fails the drain (logged as `drain_failed`) and the mark goes.
 */
import { bearer } from '../../http/bearer.js';
import { NODE_DEFAULTS } from '../../node/options.js';
import type { EdgeContext } from './context.js';

/** After the drain itself, how long the region may take to be seen healthy before the mark goes (`drainSettleMs`). */
const DRAIN_SETTLE_MS = 30_000;

/** Polling the node and the monitor while a drain waits for the region. */
const POLL_MS = 100;
const POLL_TIMEOUT_MS = 1000;

const drains = new WeakMap<EdgeContext, Map<string, Promise<void>>>();
const stops = new WeakMap<EdgeContext, AbortController>();

function stopSignal(ctx: EdgeContext): AbortSignal {
  let c = stops.get(ctx);
  if (!c) {
    c = new AbortController();
    stops.set(ctx, c);
  }
  return c.signal;
}

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

/** What the node answered: 202 `{ restarting, node }` (it restarts in place) or 200 `{ drained, node }`. */
interface NodeDrainAnswer {
  readonly restarting: boolean;
  /** The node id that is draining (a restarted node answers another one). */
  readonly node: string | undefined;
  /** The node's drain deadline (older nodes do not say: the default). */
  readonly deadlineMs: number;
}

/**
 * Ask the region's node to drain (no hook configured): its admin endpoint, with the credential
 * the operator's request presented (the node checks the same keys file), else our admin token.
 */
async function askNode(ctx: EdgeContext, region: string, authorization: string | undefined, signal: AbortSignal): Promise<NodeDrainAnswer> {
  const base = ctx.urls.get(region);
  if (base === undefined) throw new Error(`no URL for region ${region}`);
  const token = ctx.options.adminToken;
  const auth = authorization !== undefined && bearer(authorization) !== undefined ? authorization : token ? `Bearer ${token}` : undefined;
  const res = await fetch(new URL('/v1/admin/drain', base), { method: 'POST', headers: auth === undefined ? {} : { authorization: auth }, signal });
  const text = await res.text();
  if (!res.ok) throw new Error(`the node of ${region} answered ${res.status}: ${text.slice(0, 200)}`);
  let body: { restarting?: unknown; node?: unknown; deadlineMs?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // No body we understand: a node that drained without saying more (treated as not restarting).
  }
  const deadlineMs = typeof body.deadlineMs === 'number' && Number.isFinite(body.deadlineMs) && body.deadlineMs >= 0 ? body.deadlineMs : NODE_DEFAULTS.drainDeadlineMs;
  return { restarting: res.status === 202 && body.restarting === true, node: typeof body.node === 'string' ? body.node : undefined, deadlineMs };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The node id `<base>/health` answers, and whether `<base>/ready` is 200; undefined while it does not answer. */
async function nodeStatus(base: URL): Promise<{ node: string | undefined; ready: boolean } | undefined> {
  try {
    const h = await fetch(new URL('/health', base), { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
    const body = (await h.json()) as { node?: unknown };
    const r = await fetch(new URL('/ready', base), { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
    await r.arrayBuffer();
    return { node: typeof body.node === 'string' ? body.node : undefined, ready: r.status === 200 };
  } catch {
    return undefined;
  }
}

/**
 * The monitor sees the region healthy on a probe that finished at or after `since`. Every probe
 * that succeeds after the drain began reached the new node (a draining node answers /ready 503),
 * and probes of one region never overlap: no failure of the restart gap can still be counted
 * afterwards and take the region down once the mark is gone (ready → down → ready).
 */
function freshlyHealthy(ctx: EdgeContext, region: string, since: number): boolean {
  const h = ctx.monitor.health(region);
  return h.healthy && h.consecutiveOk >= 1 && h.lastProbe !== null && h.lastProbe >= since;
}

/** Resolve once `ok()` holds (checked every `POLL_MS`), or with false at `until` or when the edge closes. */
async function poll(signal: AbortSignal, until: number, ok: () => boolean | Promise<boolean>): Promise<boolean> {
  for (;;) {
    if (signal.aborted) return false;
    if (await ok()) return true;
    if (Date.now() >= until || signal.aborted) return false;
    await sleep(Math.max(0, Math.min(POLL_MS, until - Date.now())));
  }
}

/**
 * Without a hook: hold the mark until the region is back. A node that restarts in place (202) is
 * back when another node id answers its URL, ready, and the monitor has seen it so; a bare node
 * (200 `drained`) stays drained, and the mark goes once the monitor sees it down — `/v1/regions`
 * then shows `draining` → `down`, never a stale `ready` in between. Both bounded by the node's
 * drain deadline plus `DRAIN_SETTLE_MS` from the request.
 */
async function untilNodeBack(ctx: EdgeContext, region: string, answer: NodeDrainAnswer, signal: AbortSignal, until: number, budgetMs: number): Promise<void> {
  const base = ctx.urls.get(region);
  if (base === undefined) return;
  const clock = ctx.options.clock ?? Date.now;
  if (!answer.restarting) {
    await poll(signal, until, () => !ctx.monitor.health(region).healthy);
    return;
  }
  let seenAt: number | undefined;
  let gap = false;
  const back = await poll(signal, until, async () => {
    if (seenAt === undefined) {
      const s = await nodeStatus(base);
      if (s === undefined) gap = true;
      // A new node id; a node that did not say its id is new once its URL stopped answering.
      const renewed = s?.node !== undefined && (answer.node === undefined ? gap : s.node !== answer.node);
      if (s !== undefined && renewed && s.ready) seenAt = clock();
    }
    return seenAt !== undefined && freshlyHealthy(ctx, region, seenAt);
  });
  if (!back && !signal.aborted) throw new Error(`region ${region} was not back (a new node, ready and seen healthy) within ${budgetMs / 1000} s of the drain request`);
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
  const signal = stopSignal(ctx);
  const clock = ctx.options.clock ?? Date.now;
  const settleMs = ctx.options.drainSettleMs ?? DRAIN_SETTLE_MS;
  const work = (async () => {
    if (hook) {
      await hook(region);
      // The hook resolves once the region restarted: wait until the monitor agrees.
      const back = clock();
      await poll(signal, Date.now() + settleMs, () => freshlyHealthy(ctx, region, back));
      return;
    }
    const asked = Date.now();
    const answer = await askNode(ctx, region, authorization, signal).catch((err: unknown) => {
      if (signal.aborted) return undefined; // the edge is closing
      throw err;
    });
    if (answer === undefined) return;
    const budgetMs = answer.deadlineMs + settleMs;
    await untilNodeBack(ctx, region, answer, signal, asked + budgetMs, budgetMs);
  })();
  const done = work.finally(() => m.delete(region));
  done.catch(() => undefined);
  m.set(region, done);
  return { started: true, done };
}

/** The edge is closing: drains still waiting for their region stop waiting (and drop the mark). */
export function stopDrains(ctx: EdgeContext): void {
  stops.get(ctx)?.abort();
}
