/**
 * `GET /v1/route?ip=&country=&lat=&lon=`: where a client would be sent, and why — the policy's
 * decision with live states, shaped for clients and operators: `{ region, url, reason, notes,
 * candidates }`. Location comes from the parameters, else GeoIP of `ip`, else GeoIP of the
 * (trusted) client address; bad parameters are 400 with their EDGE_* code. The answer carries no
 * cookie: asking where one would go is not connecting there.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EdgeContext } from './context.js';
import { sendBadRequest, sendJson } from '../../http/respond.js';
import { locateClient, requestedAffinity, steer } from './steer.js';
import type { Steering } from './steer.js';
import type { SteeringClient } from '../policy/mod.js';

export function routeBody(s: Steering, client: SteeringClient): unknown {
  return {
    region: s.region,
    url: s.url?.origin ?? null,
    reason: s.reason,
    notes: s.decision.notes,
    client: { country: client.country ?? null, lat: client.lat ?? null, lon: client.lon ?? null },
    candidates: s.decision.candidates.map((c) => ({
      region: c.region,
      score: c.score ?? null,
      parts: c.parts ?? null,
      ...(c.excluded === undefined ? {} : { excluded: c.excluded }),
    })),
  };
}

export function handleRoute(ctx: EdgeContext, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
  let client: SteeringClient;
  try {
    client = locateClient(ctx, req, query);
  } catch (err) {
    return sendBadRequest(res, err);
  }
  const s = steer(ctx, client, requestedAffinity(ctx, req));
  sendJson(res, s.region === null ? 503 : 200, routeBody(s, client), s.region === null ? { 'retry-after': String(ctx.retryAfterS) } : {});
}
