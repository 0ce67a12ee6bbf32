/**
 * `GET /v1/slo` on the edge: every region node's `/v1/slo`, fetched in parallel with a short
 * timeout from the region URLs the edge knows; a region that does not answer in time (or
 * answers an error) is listed as unreachable. `ok` is true only when every region answered and
 * every answer is ok. Each region also carries the targets the edge's topology holds it to (its
 * `slo.regions` entry over the global ones), so a region that is down still shows them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import { targetsReport } from '../../observability/slo.js';
import type { SloTargetsReport } from '../../observability/slo.js';
import { sloTargetsFor } from '../../topology/mod.js';
import type { EdgeContext } from './context.js';
import { sendError, sendJson } from '../../http/respond.js';

export const SLO_FETCH_TIMEOUT_MS = 1000;

type Fetched = { reachable: true; slo: { ok?: boolean } & Record<string, unknown> } | { reachable: false; error: string };
type RegionSlo = { targets: SloTargetsReport } & Fetched;

async function regionSlo(url: URL, timeoutMs: number): Promise<Fetched> {
  try {
    const r = await fetch(new URL('/v1/slo', url), { signal: AbortSignal.timeout(timeoutMs) });
    if (r.status !== 200) {
      await r.body?.cancel();
      return { reachable: false, error: `HTTP ${r.status}` };
    }
    return { reachable: true, slo: (await r.json()) as { ok?: boolean } & Record<string, unknown> };
  } catch (err) {
    const e = err as Error;
    return { reachable: false, error: e.name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : e.message };
  }
}

export async function aggregateSlo(ctx: EdgeContext, timeoutMs = SLO_FETCH_TIMEOUT_MS): Promise<{ ok: boolean; regions: Record<string, RegionSlo> }> {
  const entries = await Promise.all(
    [...ctx.urls].map(async ([name, url]): Promise<readonly [string, RegionSlo]> => [name, { targets: targetsReport(sloTargetsFor(ctx.topology, name)), ...(await regionSlo(url, timeoutMs)) }]),
  );
  const regions = Object.fromEntries(entries);
  const ok = entries.every(([, r]) => r.reachable && r.slo.ok === true);
  return { ok, regions };
}

export async function handleEdgeSlo(ctx: EdgeContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, ErrorCode.InvalidArgument, '/v1/slo takes GET', undefined, { allow: 'GET' });
  sendJson(res, 200, await aggregateSlo(ctx));
}
