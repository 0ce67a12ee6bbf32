/** Options of a `Registry` and its stats as data; `checkOptions` reports every bad option at once. */
import type { Bus } from '../../bus/types.js';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { RttSource } from './types.js';

export interface RegistryOptions {
  /** This region node's bus; its region is the default `fromRegion` of `endpoints()`. */
  readonly bus: Bus;
  /**
   * Test isolation only: the bucket name of a region's workers. Default the placement module's
   * (`placed.workers(region)`, `mrd-workers-<region>`); the bucket stays in that region.
   */
  readonly bucketOf?: (region: string) => string;
  /** How often workers must heartbeat. Default 5000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** Missed heartbeats before a worker is stale. Default 3 (15 s at the default interval). */
  readonly missedHeartbeats?: number;
  /** Silence before a worker is evicted. Default 60 000 ms (Consul: deregister critical after ≥ 1 min). */
  readonly evictAfterMs?: number;
  /** How often this node looks for workers to evict. Default: the heartbeat interval; 0: never. */
  readonly sweepIntervalMs?: number;
  /** Round trip (or one-way latency: only the order matters) between regions. Default 0 everywhere. */
  readonly rtt?: RttSource;
  /**
   * Known regions: registrations from other regions are refused, and every one's workers bucket
   * is followed into this node's view. Default: only this node's region.
   */
  readonly regions?: readonly string[];
  /** Function catalogue: registrations naming other functions are refused. */
  readonly functions?: readonly string[];
  /**
   * When fewer than this share of all known workers are healthy, stale workers are offered too
   * (flagged `stale`): that many workers dying at once more likely means this view stopped
   * receiving heartbeats (its buckets unreachable) than a dead fleet. Envoy's panic threshold, 0.5.
   * 0 disables.
   */
  readonly panicThreshold?: number;
  /** The view's clock. Default `Date.now`. */
  readonly now?: () => number;
  /** Background failures (watch, sweep); default: ignored, they are retried. */
  readonly onError?: (err: unknown) => void;
}

export interface RegistryStats {
  readonly workers: number;
  readonly stale: number;
  readonly panic: boolean;
  /** Evictions this node won, and evictions it attempted but another writer got there first. */
  readonly evictions: number;
  readonly evictionConflicts: number;
  readonly watchRestarts: number;
  /** Regions whose workers bucket this node has not been able to open yet (unreachable since start). */
  readonly unfollowed: readonly string[];
}

/** Every bad option at once, as `INVALID_ARGUMENT`. */
export function checkOptions(opts: RegistryOptions): void {
  const problems: string[] = [];
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) problems.push(`${name} must be > 0`);
  };
  positive('heartbeatIntervalMs', opts.heartbeatIntervalMs);
  positive('evictAfterMs', opts.evictAfterMs);
  if (opts.missedHeartbeats !== undefined && !(Number.isInteger(opts.missedHeartbeats) && opts.missedHeartbeats >= 1)) problems.push('missedHeartbeats must be an integer >= 1');
  if (opts.sweepIntervalMs !== undefined && !(opts.sweepIntervalMs >= 0)) problems.push('sweepIntervalMs must be >= 0');
  if (opts.panicThreshold !== undefined && !(opts.panicThreshold >= 0 && opts.panicThreshold <= 1)) problems.push('panicThreshold must be within [0, 1]');
  if (problems.length > 0) throw new MeridianError(ErrorCode.InvalidArgument, `invalid registry options: ${problems.join('; ')}`, { details: { problems } });
}
