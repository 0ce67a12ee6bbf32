/**
 * `GET /v1/slo` on the edge: every region node's `/v1/slo`, fetched in parallel with a short
 * timeout from the region URLs the edge knows; a region that does not answer in time (or
 * answers an error) is listed as unreachable. `ok` is true only when every region answered and
 * every answer is ok.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import type { EdgeContext } from './context.js';
import { sendError, sendJson } from './respond.js';

export const SLO_FETCH_TIMEOUT_MS = 1000;

type RegionSlo = { reachable: true; slo: { ok?: boolean } & Record<string, unknown> } | { reachable: false; error: string };

async function regionSlo(url: URL, timeoutMs: number): Promise<RegionSlo> {
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
  const entries = await Promise.all([...ctx.urls].map(async ([name, url]) => [name, await regionSlo(url, timeoutMs)] as const));
  const regions = Object.fromEntries(entries);
  const ok = entries.every(([, r]) => r.reachable && r.slo.ok === true);
  return { ok, regions };
}

export async function handleEdgeSlo(ctx: EdgeContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, ErrorCode.InvalidArgument, '/v1/slo takes GET', { allow: 'GET' });
  sendJson(res, 200, await aggregateSlo(ctx));
}
