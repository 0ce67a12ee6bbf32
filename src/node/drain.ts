/**
 * Draining a node: stop taking new work, move every client elsewhere, then stop.
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
 */
import { CloseCode } from '../protocol/mod.js';
import type { HttpModule } from '../runtime/http-module.js';
import type { NodeContext } from './context.js';
import type { RegionView } from './regions.js';
import { wsUrl } from './regions.js';

/** Where to send clients: the nearest other region that answers, is ready and is not draining; undefined when none. */
export async function migrationTarget(ctx: NodeContext, view: RegionView): Promise<{ region: string; url: string } | undefined> {
  const urls = ctx.opts.regionUrls;
  const others = view.othersByDistance().filter((r) => urls[r] !== undefined);
  const states = await Promise.all(others.map((r) => view.state(r, { fresh: true })));
  const pick = others.find((_r, i) => {
    const st = states[i];
    return st?.reachable === true && st.nodes.length > 0 && st.nodes.some((n) => !n.draining && n.ready !== false);
  });
  return pick === undefined ? undefined : { region: pick, url: wsUrl(urls[pick]!) };
}

export async function drainSessions(ctx: NodeContext, view: RegionView, modules: readonly HttpModule[], deadlineMs: number): Promise<void> {
  const end = performance.now() + deadlineMs;
  if (ctx.sessions.size > 0) {
    const target = await migrationTarget(ctx, view);
    if (target === undefined) {
      for (const s of [...ctx.sessions]) s.close(CloseCode.SERVER_DRAINING, 'the node is shutting down and no other region is ready: nowhere to migrate');
    } else {
      const left = Math.max(0, Math.round(end - performance.now()));
      for (const s of ctx.sessions) s.migrate({ suggestedRegion: target.region, url: target.url, deadlineMs: left });
      while (ctx.sessions.size > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 25));
      for (const s of [...ctx.sessions]) s.close(CloseCode.SERVER_DRAINING, 'the node is shutting down');
    }
  }
  const rest = Math.max(0, Math.round(end - performance.now()));
  await Promise.all(modules.map(async (m) => m.drain?.(rest)));
}
