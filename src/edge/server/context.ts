/**
 * What every edge handler shares: the topology, the validated region URLs, the health monitor,
 * the load counters, GeoIP and the trusted-proxy list. Built once by the server.
 */
import type { Topology } from '../../topology/mod.js';
import type { TrustedProxies } from '../../http/client-ip.js';
import type { GeoIp } from '../geoip.js';
import type { HealthMonitor } from '../health/monitor.js';
import type { EdgeMetrics } from '../../observability/metrics.js';
import type { RegionLoad } from './load.js';
import type { EdgeOptions } from './options.js';

export interface EdgeContext {
  readonly topology: Topology;
  readonly urls: ReadonlyMap<string, URL>;
  readonly monitor: HealthMonitor;
  readonly load: RegionLoad;
  readonly geoip: GeoIp | null;
  readonly trusted: TrustedProxies;
  readonly options: EdgeOptions;
  /** Seconds a client should wait when no region can serve: about one up-threshold of probes. */
  readonly retryAfterS: number;
  readonly affinityCookie: string;
  /** Requests, steering decisions, health changes (src/observability); served at /metrics and /stats. */
  readonly metrics: EdgeMetrics;
}
