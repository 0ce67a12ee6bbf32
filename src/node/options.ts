/**
 * What a region node is configured with, its defaults, and the checks that turn a bad
 * configuration into one `NODE_INVALID_CONFIG` error at start rather than a surprise later.
 * Protocol limits default to the protocol's (src/protocol/limits.ts); the node repeats the ones
 * it enforces in `welcome.limits`, so changing them here is enough for clients to follow.
 */
import type { Bus } from '../bus/types.js';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { Messaging } from '../messaging/types.js';
import type { Presence } from '../presence/types.js';
import { resolveLimits } from '../protocol/mod.js';
import type { ProtocolLimits } from '../protocol/mod.js';
import type { AuditLog } from '../audit/mod.js';
import type { ErasureService } from '../erasure/mod.js';
import { DEFAULT_TRUSTED_PROXIES, trustedProxyProblem } from '../http/client-address.js';
import type { RateLimitOptions } from '../http/rate-limit.js';
import type { HttpModule } from '../module/http-module.js';
import type { KeyRing } from '../keys/ring.js';
import type { NodeMetrics } from '../observability/metrics.js';
import type { Topology } from '../topology/mod.js';
import { nodeOrigins } from '../topology/mod.js';

export interface AuthOptions {
  /** Shared secret for HS256 tokens. */
  readonly hs256Secret?: string;
  /** Ed25519 public key (SPKI PEM) for EdDSA tokens. */
  readonly eddsaPublicKey?: string;
  /** Expected `aud` / `iss`, checked when set. */
  readonly audience?: string;
  readonly issuer?: string;
  /** Development only: `auth { user }` without a token, with every room capability. Off unless true. */
  readonly dev?: boolean;
}

export interface NodeLimits extends ProtocolLimits {
  /** Most messages one resume/retransmit replays per conversation. */
  readonly maxReplay: number;
  /** How long a clientMsgId is remembered (the log's dedupe window; announced in welcome). */
  readonly dedupeWindowMs: number;
}

export interface RateLimit {
  /** Frames per second a connection may send, sustained. */
  readonly ratePerSec: number;
  /** Bucket size: frames a connection may send at once. */
  readonly burst: number;
}

export interface OutboundLimits {
  /** Above this many buffered bytes, live messages are dropped (one `gap` per conversation). */
  readonly softBytes: number;
  /** Above this many, the connection is closed 4501 SLOW_CONSUMER. */
  readonly hardBytes: number;
  /** Above the soft limit for this long: closed 4501 too (a client that stopped reading). */
  readonly stuckMs: number;
  /** Live messages held per conversation while it is being replayed, before falling back to re-reading the log. */
  readonly replayBuffer: number;
}

export interface RegionNodeOptions {
  readonly topology: Topology;
  readonly region: string;
  /** Unique within the region; default `<region>-<random>`. */
  readonly node?: string;
  readonly bus: Bus;
  readonly messaging: Messaging;
  readonly presence: Presence;
  /** Extra HTTP endpoints (services …), offered every request the node does not serve itself. */
  readonly modules?: readonly HttpModule[];
  /** Listen port (0: any free port). Default 0. */
  readonly port?: number;
  /** Listen address; default 127.0.0.1. */
  readonly host?: string;
  readonly auth?: AuthOptions;
  /**
   * Deprecated operator credential (`Authorization: Bearer <adminToken>`, at least 16
   * characters): a key with every scope. Prefer `keys`.
   */
  readonly adminToken?: string;
  /**
   * API keys with scopes (src/keys), read from the keys file and re-read when it changes: the
   * operator endpoints (`admin`), `POST /v1/messages` as any user (`send`), service and function
   * calls (`services`), the DLQ (`dlq`). The caller owns the ring (opens and closes it); the node
   * records its reloads in the audit trail. Without keys or an admin token the operator
   * endpoints refuse everyone.
   */
  readonly keys?: KeyRing;
  /**
   * Browser origins allowed to open WebSockets (`https://app.example.com`); absent: the
   * topology's `origins:` (src/topology/origins.ts), and without that any.
   */
  readonly origins?: readonly string[];
  /**
   * HTTP requests per credential and client address (`/health`, `/ready` and `/metrics` are not
   * counted): 429 with Retry-After past it. Default 500/s with bursts of 1000; false: off.
   */
  readonly httpRateLimit?: RateLimitOptions | false;
  /**
   * WebSocket upgrades per client address, in a limiter of their own: 429 with Retry-After past
   * it. Default 500/s with bursts of 5000 (docs/security.md, Limits, says why more than HTTP's);
   * false: off.
   */
  readonly upgradeRateLimit?: RateLimitOptions | false;
  /**
   * Proxies (addresses, CIDRs, `loopback`, `linklocal`, `uniquelocal`) whose X-Forwarded-For is
   * believed for the client address of rate limits and audit entries (src/http/client-address.ts);
   * absent: the topology's `trustedProxies:`, else loopback only. Empty: none.
   */
  readonly trustedProxies?: readonly string[];
  readonly limits?: Partial<NodeLimits>;
  readonly rateLimit?: Partial<RateLimit>;
  /**
   * Invalid or rate-limited frames a connection may send (bucket, refilled at `abuseRatePerSec`)
   * before it is closed 4753 POLICY_VIOLATION.
   */
  readonly abuseBurst?: number;
  readonly abuseRatePerSec?: number;
  readonly outbound?: Partial<OutboundLimits>;
  /**
   * Announced in welcome; the client heartbeats this often. Default 5000. Also paces losing the
   * bus: clients are moved once it has been down `2 × heartbeatMs` (assemble.ts, bus-watch.ts).
   */
  readonly heartbeatMs?: number;
  /** Silence after which a connection is closed 4502. Default 60 000. */
  readonly idleTimeoutMs?: number;
  /** Time to authenticate after the upgrade, else 4504. Default 10 000. */
  readonly authTimeoutMs?: number;
  /** How long `drain()` waits for clients to follow `migrate`. Default 30 000. */
  readonly drainDeadlineMs?: number;
  /** Largest room member list in presence answers. Default 1000. */
  readonly maxPresenceMembers?: number;
  /**
   * Base URL (http://host:port) of each region's node, for `migrate.url` and /v1/regions. Read
   * at use time, so a deployment may fill it in after every node listens.
   */
  readonly regionUrls?: Readonly<Record<string, string>>;
  /** Unexpected failures (bugs, never client input); default: printed to stderr. */
  readonly onError?: (err: unknown, where: string) => void;
  /** The node's metrics (shared with its messaging); default: a fresh set (src/observability). */
  readonly metrics?: NodeMetrics;
  /** The region's audit trail (src/audit): admin actions and refused credentials; `GET /v1/audit`. */
  readonly audit?: AuditLog;
  /** The region's erasure service: `POST /v1/erasures`, `GET /v1/erasures/{id}` (src/erasure). */
  readonly erasure?: ErasureService;
  /**
   * `POST /v1/admin/drain` (the edge's per-region drain) calls this instead of only draining:
   * the region runtime drains this node, closes it and starts a new one (new node id, same
   * data). Without it the node drains and stays drained.
   */
  readonly onAdminDrain?: () => Promise<void>;
}

export interface ResolvedNodeOptions {
  readonly topology: Topology;
  readonly region: string;
  readonly node: string;
  readonly port: number;
  readonly host: string;
  readonly auth: AuthOptions;
  readonly adminToken: string | undefined;
  readonly keys: KeyRing | undefined;
  readonly origins: readonly string[] | undefined;
  readonly httpRateLimit: RateLimitOptions | false;
  readonly upgradeRateLimit: RateLimitOptions | false;
  readonly trustedProxies: readonly string[];
  readonly limits: NodeLimits;
  readonly rateLimit: RateLimit;
  readonly abuseBurst: number;
  readonly abuseRatePerSec: number;
  readonly outbound: OutboundLimits;
  readonly heartbeatMs: number;
  readonly idleTimeoutMs: number;
  readonly authTimeoutMs: number;
  readonly drainDeadlineMs: number;
  readonly maxPresenceMembers: number;
  readonly regionUrls: Readonly<Record<string, string>>;
}

export const NODE_DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  maxReplay: 1000,
  dedupeWindowMs: 120_000,
  rateLimit: { ratePerSec: 200, burst: 400 },
  httpRateLimit: { ratePerSec: 500, burst: 1000 },
  upgradeRateLimit: { ratePerSec: 500, burst: 5000 },
  abuseBurst: 100,
  abuseRatePerSec: 10,
  outbound: { softBytes: 1 << 20, hardBytes: 8 << 20, stuckMs: 15_000, replayBuffer: 1000 },
  heartbeatMs: 5000,
  idleTimeoutMs: 60_000,
  authTimeoutMs: 10_000,
  drainDeadlineMs: 30_000,
  maxPresenceMembers: 1000,
} as const;

function invalid(message: string): MeridianError {
  return new MeridianError(ErrorCode.NodeInvalidConfig, message);
}

function positiveInt(name: string, v: number, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw invalid(`${name} must be an integer >= ${min}, not ${String(v)}`);
  return v;
}

export function resolveNodeOptions(o: RegionNodeOptions, randomId: string): ResolvedNodeOptions {
  if (!o.topology.regions.some((r) => r.name === o.region)) {
    throw invalid(`region "${o.region}" is not in the topology (known: ${o.topology.regions.map((r) => r.name).join(', ')})`);
  }
  if (o.bus.region !== o.region) throw invalid(`the bus is attached to ${o.bus.region}, not to ${o.region}`);
  const auth = o.auth ?? {};
  if (auth.hs256Secret !== undefined && auth.hs256Secret.length < 16) throw invalid('auth.hs256Secret must be at least 16 characters');
  if (o.adminToken !== undefined && o.adminToken.length < 16) throw invalid('adminToken must be at least 16 characters');
  const base = resolveLimits(o.limits ?? {});
  const limits: NodeLimits = {
    ...base,
    maxReplay: positiveInt('limits.maxReplay', o.limits?.maxReplay ?? NODE_DEFAULTS.maxReplay),
    dedupeWindowMs: positiveInt('limits.dedupeWindowMs', o.limits?.dedupeWindowMs ?? NODE_DEFAULTS.dedupeWindowMs),
  };
  for (const [k, v] of Object.entries(base) as [string, number][]) positiveInt(`limits.${k}`, v);
  const rateLimit: RateLimit = { ...NODE_DEFAULTS.rateLimit, ...o.rateLimit };
  if (!(rateLimit.ratePerSec > 0) || !(rateLimit.burst >= 1)) throw invalid('rateLimit needs ratePerSec > 0 and burst >= 1');
  const outbound: OutboundLimits = { ...NODE_DEFAULTS.outbound, ...o.outbound };
  if (!(outbound.softBytes > 0) || !(outbound.hardBytes > outbound.softBytes)) throw invalid('outbound needs 0 < softBytes < hardBytes');
  const httpRateLimit = o.httpRateLimit === false ? false : { ...NODE_DEFAULTS.httpRateLimit, ...o.httpRateLimit };
  if (httpRateLimit !== false && (!(httpRateLimit.ratePerSec > 0) || !(httpRateLimit.burst >= 1))) throw invalid('httpRateLimit needs ratePerSec > 0 and burst >= 1');
  const upgradeRateLimit = o.upgradeRateLimit === false ? false : { ...NODE_DEFAULTS.upgradeRateLimit, ...o.upgradeRateLimit };
  if (upgradeRateLimit !== false && (!(upgradeRateLimit.ratePerSec > 0) || !(upgradeRateLimit.burst >= 1))) throw invalid('upgradeRateLimit needs ratePerSec > 0 and burst >= 1');
  const trustedProxies = o.trustedProxies ?? o.topology.trustedProxies ?? DEFAULT_TRUSTED_PROXIES;
  for (const entry of trustedProxies) {
    const problem = trustedProxyProblem(entry);
    if (problem !== undefined) throw invalid(`trustedProxies: ${problem}`);
  }
  const port = o.port ?? NODE_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(`port must be 0..65535, not ${String(port)}`);
  return {
    topology: o.topology,
    region: o.region,
    node: o.node ?? `${o.region}-${randomId}`,
    port,
    host: o.host ?? NODE_DEFAULTS.host,
    auth,
    adminToken: o.adminToken,
    keys: o.keys,
    origins: o.origins ?? nodeOrigins(o.topology.origins),
    httpRateLimit,
    upgradeRateLimit,
    trustedProxies,
    limits,
    rateLimit,
    abuseBurst: positiveInt('abuseBurst', o.abuseBurst ?? NODE_DEFAULTS.abuseBurst),
    abuseRatePerSec: o.abuseRatePerSec ?? NODE_DEFAULTS.abuseRatePerSec,
    outbound,
    heartbeatMs: positiveInt('heartbeatMs', o.heartbeatMs ?? NODE_DEFAULTS.heartbeatMs),
    idleTimeoutMs: positiveInt('idleTimeoutMs', o.idleTimeoutMs ?? NODE_DEFAULTS.idleTimeoutMs),
    authTimeoutMs: positiveInt('authTimeoutMs', o.authTimeoutMs ?? NODE_DEFAULTS.authTimeoutMs),
    drainDeadlineMs: positiveInt('drainDeadlineMs', o.drainDeadlineMs ?? NODE_DEFAULTS.drainDeadlineMs, 0),
    maxPresenceMembers: positiveInt('maxPresenceMembers', o.maxPresenceMembers ?? NODE_DEFAULTS.maxPresenceMembers),
    regionUrls: o.regionUrls ?? {},
  };
}
