/**
 * Draining a node: stop taking new work, move every client elsewhere, then stop.
 *
 * 1. `/ready` answers 503 and new upgrades are refused (the edge stops steering here);
 * 2. every session gets `migrate` with the nearest other region that answers and is not
 *    draining itself (great-circle distance), and its URL;
 * 3. wait for the clients to leave (they reconnect there, resume, then close here), up to the
 *    deadline; then close the rest 4500 SERVER_DRAINING (they reconnect and resume too);
 * 4. drain the HTTP modules with what is left of the deadline.
 * A client that follows `migrate` loses nothing: its new connection resumes from its positions.
 */
import { CloseCode } from '../protocol/mod.js';
import type { HttpModule } from '../runtime/http-module.js';
import type { NodeContext } from './context.js';
import type { RegionView } from './regions.js';
import { wsUrl } from './regions.js';

/** Where to send clients: the nearest other region that answers and is not draining. */
export async function migrationTarget(ctx: NodeContext, view: RegionView, ownUrl: string): Promise<{ region: string; url: string }> {
  const others = view.othersByDistance();
  const states = await Promise.all(others.map((r) => view.state(r)));
  const urls = ctx.opts.regionUrls;
  const usable = others.filter((r, i) => urls[r] !== undefined && states[i]?.reachable === true && !states[i]?.nodes.every((n) => n.draining));
  const pick = usable[0] ?? others.find((r) => urls[r] !== undefined);
  if (pick === undefined) return { region: ctx.opts.region, url: wsUrl(ownUrl) };
  return { region: pick, url: wsUrl(urls[pick]!) };
}

export async function drainSessions(ctx: NodeContext, view: RegionView, ownUrl: string, modules: readonly HttpModule[], deadlineMs: number): Promise<void> {
  const end = performance.now() + deadlineMs;
  if (ctx.sessions.size > 0) {
    const target = await migrationTarget(ctx, view, ownUrl);
    const left = Math.max(0, Math.round(end - performance.now()));
    for (const s of ctx.sessions) s.migrate({ suggestedRegion: target.region, url: target.url, deadlineMs: left });
    while (ctx.sessions.size > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 25));
    for (const s of [...ctx.sessions]) s.close(CloseCode.SERVER_DRAINING, 'the node is shutting down');
  }
  const rest = Math.max(0, Math.round(end - performance.now()));
  await Promise.all(modules.map(async (m) => m.drain?.(rest)));
}
