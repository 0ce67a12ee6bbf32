/**
 * `GET /v1/candidates`: the regions this client may connect to, best-scored first, with the
 * URLs to probe and to connect to — what `meridian/client` elects among by measured latency
 * (docs/protocol.md, "Client"). It is the steering decision of `GET /v1/route` with the same
 * live states, filtered to what the edge itself would honour for this client as affinity:
 * scored (healthy, under its caps), not excluded by strict residency, and not being drained.
 * Pool membership and non-strict residency preferences only order the list (by score), as for
 * affinity: a client may prefer a faster region outside its pool, never one residency forbids.
 *
 * The location is the trusted client address's (GeoIP), never parameters the client sends:
 * a client cannot argue its way out of a residency rule here.
 *
 * CORS: the list is public (it reads no credential or cookie, only the request's address), and a
 * browser page on another origin must be able to read it to elect at all. So with no `cors`
 * configured it is answered with `Access-Control-Allow-Origin: *` (never with credentials);
 * with `cors` configured, that configuration decides, as for every other endpoint (cors.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EdgeContext } from './context.js';
import { drainingRegions } from './drain.js';
import { sendBadRequest, sendJson } from '../../http/respond.js';
import { locateClient, regionStates } from './steer.js';
import { decide } from '../policy/mod.js';
import type { SteeringClient } from '../policy/mod.js';

/** Exclusions that are preferences, not constraints (steer.ts honours affinity over these alone). */
const soft = (excluded: string | undefined): boolean => excluded === undefined || excluded === 'outside-pool' || excluded.startsWith('residency-preference:');

export interface CandidateRow {
  readonly region: string;
  /** http(s) base URL: probe `<url>/health`. */
  readonly url: string;
  readonly wsUrl: string;
  readonly score: number;
}

export function candidateRows(ctx: EdgeContext, client: SteeringClient): { region: string | null; reason: string; candidates: CandidateRow[] } {
  const draining = drainingRegions(ctx);
  // The policy itself, not steer(): listing candidates is not a steering decision (metrics).
  const decision = decide(ctx.topology, regionStates(ctx, draining), client);
  const rows: CandidateRow[] = [];
  if (decision.status === 200) {
    for (const c of decision.candidates) {
      const url = ctx.urls.get(c.region);
      if (url === undefined || c.score === undefined || !soft(c.excluded) || draining.has(c.region)) continue;
      const ws = new URL('/ws', url);
      ws.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      rows.push({ region: c.region, url: url.origin, wsUrl: ws.toString(), score: c.score });
    }
  }
  rows.sort((a, b) => b.score - a.score || a.region.localeCompare(b.region));
  return { region: decision.region, reason: decision.reason, candidates: rows };
}

/** `*` for the candidate list when the edge has no CORS configuration (see above); else nothing. */
export function candidatesCors(ctx: EdgeContext, res: ServerResponse): void {
  if (ctx.options.cors !== undefined) return;
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-expose-headers', 'Retry-After');
}

export function handleCandidates(ctx: EdgeContext, req: IncomingMessage, res: ServerResponse): void {
  let client: SteeringClient;
  try {
    client = locateClient(ctx, req);
  } catch (err) {
    return sendBadRequest(res, err);
  }
  const body = candidateRows(ctx, client);
  const none = body.candidates.length === 0;
  const answer = { ...body, client: { country: client.country ?? null, lat: client.lat ?? null, lon: client.lon ?? null } };
  sendJson(res, none ? 503 : 200, answer, none ? { 'retry-after': String(ctx.retryAfterS) } : {});
}
