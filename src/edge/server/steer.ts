/**
 * Choosing a region for a request: where the client is (explicit parameters, else GeoIP of the
 * trusted client IP), live region states from the monitor and the load counters, `decide()` from
 * the policy, and affinity on top.
 *
 * Affinity: the `X-Meridian-Region` header wins over the `meridian_region` cookie — the header is
 * set deliberately by an SDK for this one request (say, resuming a session), while a cookie is
 * ambient and may be stale (set by another tab or an older session). Either is honoured only
 * while the policy would allow that region for this client: healthy, under its caps and allowed
 * by strict residency — a cookie cannot move an EU client out of the EU. Unknown names are
 * ignored, not errors, so a stale cookie never breaks a client.
 */
import type { IncomingMessage } from 'node:http';
import { clientIp } from '../../http/client-ip.js';
import { countryCentroid } from '../countries.js';
import { requireIp } from '../../http/ip.js';
import { decide, normalizeCountry, validateLocation } from '../policy/mod.js';
import type { Decision, RegionState, SteeringClient } from '../policy/mod.js';
import type { EdgeContext } from './context.js';
import { DEFAULT_AFFINITY_TTL_S } from './options.js';

export interface Steering {
  readonly decision: Decision;
  /** The chosen region and its URL; null when nothing can serve (decision.status 503). */
  readonly region: string | null;
  readonly url: URL | null;
  /** `affinity` when the client's header or cookie kept it on its region, else the policy's reason. */
  readonly reason: string;
}

/** Live states for decide(): regions without a URL get none (never chosen). */
export function regionStates(ctx: EdgeContext, exclude: ReadonlySet<string> = new Set()): Map<string, RegionState> {
  const out = new Map<string, RegionState>();
  for (const region of ctx.urls.keys()) {
    out.set(region, { healthy: ctx.monitor.health(region).healthy && !exclude.has(region), connections: ctx.load.connections(region), rps: ctx.load.rps(region) });
  }
  return out;
}

export function requestIp(ctx: EdgeContext, req: IncomingMessage): string | undefined {
  return clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], ctx.trusted);
}

/**
 * The client's location. `query` (only for GET /v1/route) may carry `ip`, `country`, `lat`,
 * `lon`: explicit values override what GeoIP says. Bad values throw typed EDGE_* errors.
 */
export function locateClient(ctx: EdgeContext, req: IncomingMessage, query?: URLSearchParams): SteeringClient {
  const ipParam = query?.get('ip') ?? null;
  const ip = ipParam !== null ? requireIp(ipParam).address : requestIp(ctx, req);
  const geo = ip === undefined ? null : (ctx.geoip?.lookup(ip) ?? null);
  const countryParam = query?.get('country') ?? null;
  const lat = query?.get('lat') ?? null;
  const lon = query?.get('lon') ?? null;
  const explicit = lat !== null || lon !== null ? validateLocation(lat ?? undefined, lon ?? undefined) : undefined;
  const located = geo?.lat !== undefined && geo.lon !== undefined ? { lat: geo.lat, lon: geo.lon } : undefined;
  const country = countryParam !== null ? normalizeCountry(countryParam) : geo?.country;
  // Only a country known: its centroid, so proximity still counts (see ../countries.ts).
  const at = explicit ?? located ?? (country === undefined ? undefined : countryCentroid(country));
  return { country, lat: at?.lat, lon: at?.lon };
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The region a client asks to stay on: header first, then cookie. */
export function requestedAffinity(ctx: EdgeContext, req: IncomingMessage): string | undefined {
  const header = req.headers['x-meridian-region'];
  const h = Array.isArray(header) ? header[0] : header;
  return h?.trim() || readCookie(req.headers.cookie, ctx.affinityCookie);
}

// Exclusions that are preferences, not constraints: affinity may override them.
const soft = (excluded: string | undefined): boolean => excluded === undefined || excluded === 'outside-pool' || excluded.startsWith('residency-preference:');

export function steer(ctx: EdgeContext, client: SteeringClient, affinity?: string, exclude?: ReadonlySet<string>): Steering {
  const s = choose(ctx, client, affinity, exclude);
  ctx.metrics.decision(s.region, s.reason);
  return s;
}

function choose(ctx: EdgeContext, client: SteeringClient, affinity?: string, exclude?: ReadonlySet<string>): Steering {
  const decision = decide(ctx.topology, regionStates(ctx, exclude), client);
  if (affinity !== undefined && affinity !== decision.region) {
    const c = decision.candidates.find((x) => x.region === affinity);
    const url = ctx.urls.get(affinity);
    if (c !== undefined && url !== undefined && c.score !== undefined && soft(c.excluded) && decision.status === 200) {
      return { decision, region: affinity, url, reason: 'affinity' };
    }
  }
  const url = decision.region === null ? undefined : ctx.urls.get(decision.region);
  if (decision.region === null || url === undefined) return { decision, region: null, url: null, reason: decision.reason };
  return { decision, region: decision.region, url, reason: affinity === decision.region ? 'affinity' : decision.reason };
}

export function affinityCookie(ctx: EdgeContext, region: string): string {
  const a = ctx.options.affinity;
  return `${ctx.affinityCookie}=${region}; Path=/; Max-Age=${a?.ttlS ?? DEFAULT_AFFINITY_TTL_S}; HttpOnly; SameSite=Lax${a?.secure === true ? '; Secure' : ''}`;
}
