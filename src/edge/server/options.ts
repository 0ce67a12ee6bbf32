/**
 * What the edge server is configured with, the defaults, and the checks that turn a bad
 * configuration into one typed error at start (`EDGE_INVALID_CONFIG`, `EDGE_UNKNOWN_REGION`)
 * instead of a surprise on the first request. Region URLs are the only proxy targets there will
 * ever be: nothing a client sends can name another address.
 */
import type { AuditLog } from '../../audit/mod.js';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Topology } from '../../topology/mod.js';
import { edgeCors } from '../../topology/mod.js';
import type { GeoIp } from '../geoip.js';
import type { Clock, OutlierConfig, ProbeConfig } from '../health/types.js';
import type { KeyRing } from '../../keys/ring.js';

export interface CorsOptions {
  /** Allowed origins (`https://app.example.com`), or `'*'` for any. */
  readonly origins: readonly string[] | '*';
  /** Preflight cache time, seconds (Access-Control-Max-Age). */
  readonly maxAgeS?: number;
  /** Send Access-Control-Allow-Credentials (needed for the affinity cookie cross-site). */
  readonly credentials?: boolean;
}

/** Per client IP at the edge (src/http/rate-limit.ts). */
export type { RateLimitOptions } from '../../http/rate-limit.js';
import type { RateLimitOptions } from '../../http/rate-limit.js';

export interface AffinityOptions {
  readonly cookie?: string;
  /** Cookie lifetime, seconds; 23 h by default, as Cloudflare's cookie affinity. */
  readonly ttlS?: number;
  /** Mark the cookie Secure (set when the edge is served over HTTPS). */
  readonly secure?: boolean;
}

export type RegionHook = (region: string) => void | Promise<void>;

export interface EdgeOptions {
  readonly topology: Topology;
  /** Base URL (http://host:port) of each region node; regions without one are never targets. */
  readonly regionUrls: Readonly<Record<string, string>>;
  /** Listen port (0: any free port); default 7700. */
  readonly port?: number;
  /** Listen address; default 127.0.0.1 (pass 0.0.0.0 or :: to serve other hosts). */
  readonly host?: string;
  /** GeoIP for client location; undefined opens the packaged data, null disables it. */
  readonly geoip?: GeoIp | null;
  /** Proxies whose X-Forwarded-For is believed (see client-ip.ts); default none. */
  readonly trustedProxies?: readonly string[];
  readonly probe?: Partial<ProbeConfig>;
  readonly outlier?: Partial<OutlierConfig>;
  /**
   * Allowed browser origins, for CORS and WebSocket upgrades. Absent: the topology's `origins:`
   * (src/topology/origins.ts); without either, no CORS headers and WebSockets from any origin.
   */
  readonly cors?: CorsOptions;
  /** Per-client-IP token bucket; default 100/s with bursts of 200; false disables it. */
  readonly rateLimit?: RateLimitOptions | false;
  readonly affinity?: AffinityOptions;
  /**
   * Admin endpoints need `Authorization: Bearer <API key>` with the `admin` scope, from this
   * keys file (re-read when it changes; the caller opens and closes the ring)…
   */
  readonly keys?: KeyRing;
  /** …or the deprecated `Authorization: Bearer <adminToken>` (a key with every scope)… */
  readonly adminToken?: string;
  /** …or, with neither, are open without a credential when devAdmin is true (local development only). */
  readonly devAdmin?: boolean;
  /**
   * The edge's audit trail (audit.ts, `openEdgeAuditLog`): admin actions and refusals are recorded
   * in it and `GET /v1/audit` serves it. The caller opens and closes it. Absent: nothing is
   * recorded and `GET /v1/audit` answers 501.
   */
  readonly audit?: AuditLog;
  readonly onRegionDown?: RegionHook;
  readonly onRegionUp?: RegionHook;
  /**
   * `POST /v1/admin/regions/{name}/drain`: drain the region's node (clients get `migrate`) and
   * restart it; resolves when it is back. Without it the edge asks the node itself
   * (`POST <node>/v1/admin/drain` with the credential the request presented, else `adminToken`).
   */
  readonly onRegionDrain?: RegionHook;
  /**
   * After a region's drain (the hook resolved, or the node's own drain deadline passed), how long
   * the region may take to be seen healthy again before the `draining` mark goes (and, without a
   * hook, the drain is logged as failed). Default 30 s.
   */
  readonly drainSettleMs?: number;
  /** Upstream idle time before a proxied request fails with 504; default 60 s. */
  readonly proxyTimeoutMs?: number;
  /** Pause reading one WebSocket side while the other has more than this queued; default 1 MiB. */
  readonly wsHighWaterMark?: number;
  readonly clock?: Clock;
}

export const DEFAULT_EDGE_PORT = 7700;
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { ratePerSec: 100, burst: 200 };
export const DEFAULT_AFFINITY_COOKIE = 'meridian_region';
export const DEFAULT_AFFINITY_TTL_S = 82_800;

/** Validated region URLs: topology regions only, http(s) origins without credentials or path. */
export function checkRegionUrls(topology: Topology, urls: Readonly<Record<string, string>>): Map<string, URL> {
  const known = new Set(topology.regions.map((r) => r.name));
  const out = new Map<string, URL>();
  for (const [region, text] of Object.entries(urls)) {
    if (!known.has(region)) {
      throw new MeridianError(ErrorCode.EdgeUnknownRegion, `region URL given for "${region}", which is not in the topology (known: ${[...known].join(', ')})`, { details: { region } });
    }
    let url: URL;
    try {
      url = new URL(text);
    } catch (cause) {
      throw new MeridianError(ErrorCode.EdgeInvalidConfig, `region ${region}: "${text}" is not a URL`, { cause, details: { region } });
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '') {
      throw new MeridianError(ErrorCode.EdgeInvalidConfig, `region ${region}: URL must be http(s)://host:port without path, query or credentials`, { details: { region, url: text } });
    }
    out.set(region, new URL(url.origin));
  }
  if (out.size === 0) throw new MeridianError(ErrorCode.EdgeInvalidConfig, 'no region URLs: the edge needs at least one region to send clients to');
  return out;
}

/** `us-east=http://127.0.0.1:7701,eu-west=http://…` as given on the command line. */
export function parseRegionList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new MeridianError(ErrorCode.EdgeInvalidConfig, `"${part}" is not name=url`, { details: { part } });
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** `options` with `cors` from the topology's `origins:` when none is given (a flag wins). */
export function withTopologyCors(options: EdgeOptions): EdgeOptions {
  if (options.cors !== undefined) return options;
  const cors = edgeCors(options.topology.origins);
  return cors === undefined ? options : { ...options, cors };
}
