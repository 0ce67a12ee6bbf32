/** Options of the services module, and their checked, defaulted form. */
import type { Bus } from '../../bus/types.js';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Topology } from '../../topology/mod.js';
import type { AuditLog } from '../../audit/mod.js';
import type { DeadLetterQueue } from '../dlq/mod.js';
import type { EgressOptions } from '../egress/policy.js';
import type { Listener } from '../egress/listeners.js';
import type { PolicyConfig } from '../policy/mod.js';
import type { RegistryOptions, RttSource } from '../registry/mod.js';

export interface ServicesModuleOptions {
  /** This region node's bus. */
  readonly bus: Bus;
  /** This node's region; must be the bus's region. Default: `bus.region`. */
  readonly region?: string;
  readonly topology: Topology;
  /** Workers present it as `Authorization: Bearer <token>` on `/v1/workers` calls. */
  readonly registrationToken: string;
  /** Where the embedded DLQ keeps its SQLite file (`<dataDir>/services-dlq-<region>.sqlite`; `:memory:` keeps nothing). */
  readonly dataDir?: string;
  /**
   * The DLQ: an instance (borrowed, not closed), `sqlite` (needs `dataDir`), or `kv` (a bus KV
   * bucket placed in this region: JetStream on NATS). Default: `sqlite` with a `dataDir`, else `kv`.
   */
  readonly dlq?: DeadLetterQueue | 'sqlite' | 'kv';
  /**
   * Registry timing (heartbeat interval, missed heartbeats, eviction, sweep interval...). Where
   * workers are stored is not an option: each region's bucket is in that region (src/placement).
   */
  readonly registry?: Omit<RegistryOptions, 'bus' | 'rtt' | 'regions' | 'functions' | 'onError'>;
  /** RTT between regions for failover order. Default: the topology's WAN latency. */
  readonly rtt?: RttSource;
  /** Policies in code; they override the topology's `services:` / `functions:` policies. */
  readonly policy?: {
    readonly defaults?: PolicyConfig;
    readonly services?: Readonly<Record<string, PolicyConfig>>;
    readonly functions?: Readonly<Record<string, PolicyConfig>>;
  };
  readonly limits?: {
    /** Largest proxied request body. Default 10 MiB. */
    readonly maxBodyBytes?: number;
    /** Largest CloudEvent (request or handler answer). Default 1 MiB. */
    readonly maxEventBytes?: number;
    /** Proxied bodies up to this size (declared length) are buffered so retries can resend them. Default 64 KiB. */
    readonly retryBufferBytes?: number;
  };
  /**
   * Where worker URLs may point; default the topology's `egress:` (loopback, link-local, metadata
   * and unlisted private addresses refused). Dev mode passes `allowLoopback`.
   */
  readonly egress?: EgressOptions;
  /**
   * The region nodes' listeners (this node's, the region URLs it knows): worker URLs may never
   * point there (src/services/egress/listeners.ts). The region runtime passes them.
   */
  readonly listeners?: () => Iterable<Listener>;
  /** Where worker (de)registrations, DLQ replays and deletes, and refused credentials are recorded. */
  readonly audit?: AuditLog;
  /** `Retry-After` seconds on 503 answers. Default 1. */
  readonly retryAfterS?: number;
  /** Background failures (registry watch, async invocations). */
  readonly onError?: (err: unknown) => void;
}

export interface Limits {
  readonly maxBodyBytes: number;
  readonly maxEventBytes: number;
  readonly retryBufferBytes: number;
  readonly maxRegistrationBytes: number;
}

export function checkModuleOptions(o: ServicesModuleOptions): { region: string; limits: Limits } {
  const problems: string[] = [];
  const region = o.region ?? o.bus.region;
  if (region !== o.bus.region) problems.push(`region ${region} is not the bus's region ${o.bus.region}`);
  if (!o.topology.regions.some((r) => r.name === region)) problems.push(`region ${region} is not in the topology`);
  if (typeof o.registrationToken !== 'string' || o.registrationToken.length < 16) problems.push('registrationToken must be a string of at least 16 characters');
  if (o.dlq === 'sqlite' && o.dataDir === undefined) problems.push('dlq "sqlite" needs dataDir');
  const limits: Limits = {
    maxBodyBytes: o.limits?.maxBodyBytes ?? 10 * 1024 * 1024,
    maxEventBytes: o.limits?.maxEventBytes ?? 1024 * 1024,
    retryBufferBytes: o.limits?.retryBufferBytes ?? 64 * 1024,
    maxRegistrationBytes: 256 * 1024,
  };
  for (const [k, v] of Object.entries(limits)) if (!(Number.isInteger(v) && v >= 0)) problems.push(`limits.${k} must be an integer >= 0`);
  if (problems.length > 0) throw new MeridianError(ErrorCode.InvalidArgument, `invalid services module options: ${problems.join('; ')}`, { details: { problems } });
  return { region, limits };
}
