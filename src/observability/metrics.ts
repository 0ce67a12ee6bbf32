/**
 * Prometheus metrics of a region node (`NodeMetrics`) and of the edge (`EdgeMetrics`), with
 * prom-client. Each has its own `Registry` (never the global one): `meridian up` runs every
 * region node and the edge in one process, and each serves its own `/metrics`. Node process
 * metrics (CPU, memory, event loop, GC) are collected once per process in a shared registry and
 * appended to every exposition.
 *
 * Naming follows Prometheus conventions: `meridian_` prefix, base units (seconds), `_total`
 * counters, histograms for latency. Labels are bounded sets (frame types, outcomes, region
 * names of the topology, reasons, services declared by operators); never a user, room or
 * conversation id. docs/observability.md lists every metric.
 *
 * The hot path stays cheap: frames in/out are counted in plain numbers and pushed into their
 * counters by `collect()` at scrape time; per-delivery work is one histogram observation per node
 * (not per session); gauges read their sources at scrape time.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import { CLIENT_FRAME_TYPES, SERVER_FRAME_TYPES } from '../protocol/mod.js';
import { VERSION } from '../version.js';
import { SLO_BOUNDS_MS, SloTracker, WINDOWS_MS, bucketOf, quantileFromBuckets } from './slo.js';
import type { SloTargets } from './slo.js';
import { KeyedRates, RateWindow, SlotRing } from './windows.js';
import type { Clock } from './windows.js';
import { silentLogger } from './logger.js';
import { FastHistogram } from './histogram.js';
import type { HistogramSeries } from './histogram.js';

/** Latency buckets (seconds) of the delivery and service histograms: 1 ms to 10 s. */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10];
/** Log append buckets (seconds): appends are local, 50 µs to 1 s. */
export const APPEND_BUCKETS_S = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

let processRegistry: Registry | undefined;

/** The process-wide registry of Node's default metrics, made on first use. */
export function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    // Gauges named like counters, which `promtool check metrics` rejects; the per-type gauges
    // without the suffix (nodejs_active_handles …) carry the same numbers.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

/** The text exposition: the process metrics once, then the component's own. */
export async function exposition(registry: Registry): Promise<string> {
  const [proc, own] = await Promise.all([processMetrics().metrics(), registry.metrics()]);
  return `${proc}\n${own}`;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type SendOutcome = 'accepted' | 'duplicate' | 'rejected' | 'failed';
/** What an ack means (messaging's `Durability`): stored at the home, or at the home and its replica. */
export type SendDurability = 'local' | 'replicated';
const SEND_OUTCOMES: readonly SendOutcome[] = ['accepted', 'duplicate', 'rejected', 'failed'];
const SEND_DURABILITIES: readonly SendDurability[] = ['local', 'replicated'];
export type AuthFailureReason = 'expired' | 'invalid' | 'missing' | 'timeout';
export type CallKind = 'service' | 'function';
export type CallOutcome = 'ok' | 'client_error' | 'server_error' | 'timeout' | 'no_endpoints' | 'overloaded' | 'error';
const CALL_OUTCOMES: readonly CallOutcome[] = ['ok', 'client_error', 'server_error', 'timeout', 'no_endpoints', 'overloaded', 'error'];

/** One (kind, service) pair's calls by outcome, and its duration series. */
interface CallSeries {
  readonly kind: CallKind;
  readonly service: string;
  readonly outcomes: Float64Array;
  readonly duration: HistogramSeries;
}

/** A fixed set of names counted in plain numbers; anything else counts as `other`. */
class NameCounts {
  readonly names: readonly string[];
  readonly #index = new Map<string, number>();
  readonly counts: Float64Array;

  constructor(names: readonly string[]) {
    this.names = [...names, 'other'];
    this.names.forEach((n, i) => this.#index.set(n, i));
    this.counts = new Float64Array(this.names.length);
  }

  inc(name: string, n = 1): void {
    this.counts[this.#index.get(name) ?? this.names.length - 1]! += n;
  }

  get(name: string): number {
    return this.counts[this.#index.get(name) ?? this.names.length - 1]!;
  }
}

/** What the node's gauges read at scrape time (set by the node once it exists). */
export interface NodeSources {
  connections(): number;
  sessions(): number;
  draining(): boolean;
  /** Round trip to every other region in ms (null: did not answer). */
  rtt?(): Promise<Record<string, number | null>>;
  /** Users with at least one session on this node. */
  presentUsers?(): number;
}

/** Policy snapshots of one caller (services or functions), read at scrape time. */
export interface CallerSource {
  readonly kind: CallKind;
  snapshot(): readonly {
    readonly service: string;
    readonly budget: { readonly denied: number; readonly allowed: number; readonly retries: number };
    readonly endpoints: readonly { readonly breaker: 'closed' | 'open' | 'half-open' }[];
    readonly counters: { readonly retries: number; readonly attempts: number };
  }[];
}

export interface NodeMetricsOptions {
  readonly region: string;
  readonly node: string;
  /** Every region of the topology (label values of the cross-region series). */
  readonly regions: readonly string[];
  readonly slo?: SloTargets;
  readonly clock?: Clock;
  readonly log?: Logger;
}

export const MAX_SERVICES = 200;
/** The short window of /stats' `crossRegionNow` (1-second slots: precise to a fifth). */
export const NOW_WINDOW_MS = 5000;

export class NodeMetrics {
  readonly region: string;
  readonly node: string;
  readonly registry = new Registry();
  readonly slo: SloTracker;
  readonly log: Logger;
  readonly clock: Clock;
  readonly startedAt: number;
  readonly regions: readonly string[];

  // Plain numbers for the hot path, pushed into counters at scrape time.
  readonly framesIn = new NameCounts([...CLIENT_FRAME_TYPES, 'invalid']);
  readonly framesOut = new NameCounts(SERVER_FRAME_TYPES);
  #connectionsOpened = 0;
  #authenticated: number | undefined = 0;
  /** Sessions per user on this node (a count, never exported with the user as a label). */
  readonly #users = new Map<string, number>();
  #deliveries: Float64Array;
  #regionIndex = new Map<string, number>();

  // 1-minute rates for /stats.
  readonly sendRate: RateWindow;
  readonly deliveryRate: RateWindow;
  readonly deliveredFrom: KeyedRates;
  /** The same deliveries over the last few seconds: what the dashboard draws flows from (a change shows at once). */
  readonly deliveredFromNow: KeyedRates;

  // Bus state.
  #busStatus: 'connected' | 'disconnected' | 'reconnecting' | 'closed' = 'connected';
  #lastRtt: Record<string, number | null> = {};

  #sources: NodeSources | undefined;
  readonly #callers: CallerSource[] = [];
  #dlqDepth: (() => Promise<number>) | undefined;

  readonly sent: Counter<'durability' | 'outcome'>;
  readonly #sentCounts = new Float64Array(SEND_DURABILITIES.length * SEND_OUTCOMES.length);
  readonly deliveryLatency: FastHistogram<'source_region'>;
  readonly #latencyBy: HistogramSeries[];
  readonly appendLatency: FastHistogram;
  readonly replicationLag: FastHistogram;
  readonly #replicationFailures: Counter;
  /** Replication lags of the last 5 minutes in the SLO latency buckets (10-s slots), for /stats' p99. */
  readonly #lagRing: SlotRing;
  readonly #replicationFailureRate: RateWindow;
  readonly #failoverAside: Counter;
  readonly #takeovers: Counter<'home_region' | 'owner_region'>;
  /** Takeovers this node knows of (home → owner), each counted once: bounded by the regions' pairs. */
  readonly #takeoverPairs = new Map<string, { readonly home: string; readonly owner: string }>();
  readonly busReconnects: Counter;
  readonly busDisconnects: Counter;
  readonly slowConsumerGaps: Counter;
  readonly slowConsumerCloses: Counter<'reason'>;
  readonly rateLimited: Counter<'scope'>;
  readonly authFailures: Counter<'reason' | 'transport'>;
  readonly serviceCalls: Counter<'kind' | 'service' | 'outcome'>;
  readonly serviceDuration: FastHistogram<'kind' | 'service'>;
  readonly #services = new Set<string>();
  /** Per (kind, service): counted in plain numbers, pushed into serviceCalls at scrape time. */
  readonly #calls = new Map<string, CallSeries>();

  constructor(o: NodeMetricsOptions) {
    this.region = o.region;
    this.node = o.node;
    this.regions = o.regions;
    this.clock = o.clock ?? Date.now;
    this.startedAt = this.clock();
    this.log = o.log ?? silentLogger();
    this.slo = new SloTracker(o.slo ?? {}, this.clock);
    this.sendRate = new RateWindow(this.clock);
    this.deliveryRate = new RateWindow(this.clock);
    this.deliveredFrom = new KeyedRates(this.clock, o.regions.length + 1);
    this.deliveredFromNow = new KeyedRates(this.clock, o.regions.length + 1, NOW_WINDOW_MS);
    this.#lagRing = new SlotRing({ slotMs: 10_000, spanMs: WINDOWS_MS['5m'], width: SLO_BOUNDS_MS.length + 1, clock: this.clock });
    this.#replicationFailureRate = new RateWindow(this.clock);
    o.regions.forEach((r, i) => this.#regionIndex.set(r, i));
    this.#deliveries = new Float64Array(o.regions.length + 1);
    this.registry.setDefaultLabels({ region: o.region, node: o.node });
    const registers = [this.registry];
    // prom-client calls collect() with `this` bound to the metric: the component is reached by name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;

    new Gauge({ name: 'meridian_node_info', help: 'Constant 1, labelled with the Meridian version.', labelNames: ['version'], registers }).set({ version: VERSION }, 1);
    new Gauge({
      name: 'meridian_node_start_time_seconds',
      help: 'When this node started, in seconds since the epoch.',
      registers,
    }).set(this.startedAt / 1000);
    new Gauge({
      name: 'meridian_connections',
      help: 'WebSocket connections open on this node (authenticated or not).',
      registers,
      collect() {
        this.set(self.#sources?.connections() ?? 0);
      },
    });
    new Counter({
      name: 'meridian_connections_opened_total',
      help: 'WebSocket connections accepted by this node.',
      registers,
      collect() {
        this.reset();
        this.inc(self.#connectionsOpened);
      },
    });
    new Gauge({
      name: 'meridian_sessions',
      help: 'Authenticated WebSocket sessions open on this node.',
      registers,
      collect() {
        this.set(self.#sources?.sessions() ?? 0);
      },
    });
    new Gauge({
      name: 'meridian_node_draining',
      help: '1 while this node drains (clients are migrated away), else 0.',
      registers,
      collect() {
        this.set(self.#sources?.draining() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'meridian_presence_users',
      help: 'Distinct users with at least one session on this node.',
      registers,
      collect() {
        this.set(self.#sources?.presentUsers?.() ?? self.presentUsers);
      },
    });
    new Counter({
      name: 'meridian_frames_received_total',
      help: 'WebSocket frames received from clients, by frame type ("invalid": failed to parse).',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        self.framesIn.names.forEach((type, i) => this.inc({ type }, self.framesIn.counts[i]));
      },
    });
    new Counter({
      name: 'meridian_frames_sent_total',
      help: 'WebSocket frames written to clients, by frame type.',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        self.framesOut.names.forEach((type, i) => this.inc({ type }, self.framesOut.counts[i]));
      },
    });
    // Counted in plain numbers (one per durability × outcome: 8 series, all shown from the start
    // at 0) and pushed at scrape time: a labelled child's inc() hashes its labels on every call.
    this.sent = new Counter({
      name: 'meridian_messages_sent_total',
      help: 'Sends through this node (WebSocket and HTTP), by durability (local, replicated: what the ack means) and outcome (accepted, duplicate, rejected: the client\'s fault, failed: ours).',
      labelNames: ['durability', 'outcome'],
      registers,
      collect() {
        this.reset();
        SEND_DURABILITIES.forEach((durability, d) => SEND_OUTCOMES.forEach((outcome, o) => this.inc({ durability, outcome }, self.#sentCounts[d * SEND_OUTCOMES.length + o])));
      },
    });
    new Counter({
      name: 'meridian_deliveries_total',
      help: 'Live messages handed to sessions on this node, by the region that accepted the send (source) and this region (destination).',
      labelNames: ['source_region', 'destination_region'],
      registers,
      collect() {
        this.reset();
        const names = [...self.regions, 'unknown'];
        names.forEach((r, i) => this.inc({ source_region: r, destination_region: self.region }, self.#deliveries[i]));
      },
    });
    // The three per-message histograms are FastHistograms (histogram.ts): same exposition, a
    // fraction of prom-client's cost per observation.
    this.deliveryLatency = new FastHistogram({
      name: 'meridian_delivery_latency_seconds',
      help: 'End to end: the home region stored the send (message timestamp) to this node writing the frame to its sessions; by source region.',
      labelNames: ['source_region'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.#latencyBy = [...o.regions, 'unknown'].map((r) => this.deliveryLatency.labels(r));
    this.appendLatency = new FastHistogram({
      name: 'meridian_log_append_duration_seconds',
      help: 'Time to append a message to this region\'s durable log (homed conversations).',
      buckets: APPEND_BUCKETS_S,
      registers,
    });
    this.replicationLag = new FastHistogram({
      name: 'meridian_replication_lag_seconds',
      help: 'From the home\'s append to the replica region holding the copy (conversations homed here).',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#replicationFailures = new Counter({
      name: 'meridian_replication_failures_total',
      help: 'Copies to a replica region that failed (retried until it catches up).',
      registers,
    });
    this.#failoverAside = new Counter({
      name: 'meridian_failover_aside_entries_total',
      help: 'Entries this region acked as local that may not have reached the replica that took its conversations over (kept aside in its log, reported).',
      registers,
    });
    this.#takeovers = new Counter({
      name: 'meridian_failover_takeovers_total',
      help: 'Takeovers this node knows of, each counted once: the conversations homed in home_region are written by owner_region (won here, fenced here, or learned).',
      labelNames: ['home_region', 'owner_region'],
      registers,
    });
    // Every ordered pair of regions from the start, at 0: increase() sees the first takeover.
    for (const home of o.regions) for (const owner of o.regions) if (home !== owner) this.#takeovers.inc({ home_region: home, owner_region: owner }, 0);
    new Gauge({
      name: 'meridian_bus_connected',
      help: '1 while this node\'s bus is connected to its region\'s servers, else 0.',
      registers,
      collect() {
        this.set(self.#busStatus === 'connected' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'meridian_bus_status',
      help: 'The bus connection state: 1 for the current state, 0 for the others.',
      labelNames: ['status'],
      registers,
      collect() {
        for (const s of ['connected', 'disconnected', 'reconnecting', 'closed'] as const) this.set({ status: s }, self.#busStatus === s ? 1 : 0);
      },
    });
    this.busReconnects = new Counter({ name: 'meridian_bus_reconnects_total', help: 'Times the bus reconnected to its region\'s servers.', registers });
    this.busDisconnects = new Counter({ name: 'meridian_bus_disconnects_total', help: 'Times the bus lost its region\'s servers.', registers });
    new Gauge({
      name: 'meridian_region_rtt_seconds',
      help: 'Round trip over the bus (gateways / simulated WAN) from this node to each other region, as last measured.',
      labelNames: ['peer_region'],
      registers,
      async collect() {
        const rtt = await self.refreshRtt();
        this.reset();
        for (const [peer, ms] of Object.entries(rtt)) if (ms !== null) this.set({ peer_region: peer }, ms / 1000);
      },
    });
    new Gauge({
      name: 'meridian_region_reachable',
      help: '1 when the other region answered this node\'s last status request, else 0.',
      labelNames: ['peer_region'],
      registers,
      collect() {
        this.reset();
        for (const [peer, ms] of Object.entries(self.#lastRtt)) this.set({ peer_region: peer }, ms === null ? 0 : 1);
      },
    });
    this.slowConsumerGaps = new Counter({ name: 'meridian_slow_consumer_gaps_total', help: 'Gaps sent to clients that fell behind: each stops live messages of one conversation for one client, which refills from the log.', registers });
    this.slowConsumerCloses = new Counter({ name: 'meridian_slow_consumer_closes_total', help: 'Connections closed 4501 SLOW_CONSUMER, by reason (hard_limit, stuck).', labelNames: ['reason'], registers });
    this.rateLimited = new Counter({ name: 'meridian_rate_limited_total', help: 'Frames or requests refused by a rate limit, by scope (frame: a connection\'s frames; http: the HTTP API, 429).', labelNames: ['scope'], registers });
    // Both scopes from the start, at 0, so rate() and alerts see the series before the first refusal.
    for (const scope of ['frame', 'http']) this.rateLimited.inc({ scope }, 0);
    this.authFailures = new Counter({ name: 'meridian_auth_failures_total', help: 'Failed authentications, by reason (expired, invalid, missing, timeout) and transport (ws, http).', labelNames: ['reason', 'transport'], registers });
    // Once per proxied request: plain numbers and a FastHistogram (prom-client's labelled inc and
    // observe hash their labels on every call; ~3-4 µs of a services proxy request, issue 15).
    this.serviceCalls = new Counter({
      name: 'meridian_service_calls_total',
      help: 'Service calls and function invocations made from this node, by kind, service and outcome.',
      labelNames: ['kind', 'service', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const c of self.#calls.values()) CALL_OUTCOMES.forEach((outcome, i) => c.outcomes[i]! > 0 && this.inc({ kind: c.kind, service: c.service, outcome }, c.outcomes[i]));
      },
    });
    this.serviceDuration = new FastHistogram({ name: 'meridian_service_call_duration_seconds', help: 'Duration of service calls and function invocations (all attempts), by kind and service.', labelNames: ['kind', 'service'], buckets: LATENCY_BUCKETS_S, registers });
    new Counter({
      name: 'meridian_service_retries_total',
      help: 'Retries made by the call policy, by kind and service.',
      labelNames: ['kind', 'service'],
      registers,
      collect() {
        this.reset();
        for (const c of self.#callers) for (const s of c.snapshot()) this.inc({ kind: c.kind, service: self.#serviceLabel(s.service) }, s.counters.retries);
      },
    });
    new Counter({
      name: 'meridian_service_retry_budget_denied_total',
      help: 'Retries refused because the retry budget was spent, by kind and service.',
      labelNames: ['kind', 'service'],
      registers,
      collect() {
        this.reset();
        for (const c of self.#callers) for (const s of c.snapshot()) this.inc({ kind: c.kind, service: self.#serviceLabel(s.service) }, s.budget.denied);
      },
    });
    new Gauge({
      name: 'meridian_service_retry_budget_available',
      help: 'Retries the budget still allows in its current window, by kind and service.',
      labelNames: ['kind', 'service'],
      registers,
      collect() {
        this.reset();
        for (const c of self.#callers) for (const s of c.snapshot()) this.set({ kind: c.kind, service: self.#serviceLabel(s.service) }, Math.max(0, s.budget.allowed - s.budget.retries));
      },
    });
    new Gauge({
      name: 'meridian_breakers',
      help: 'Endpoints of each service by circuit-breaker state (closed, open, half-open), as this node sees them.',
      labelNames: ['kind', 'service', 'state'],
      registers,
      collect() {
        this.reset();
        for (const c of self.#callers) {
          for (const s of c.snapshot()) {
            const n = { closed: 0, open: 0, 'half-open': 0 };
            for (const e of s.endpoints) n[e.breaker]++;
            for (const [state, v] of Object.entries(n)) this.set({ kind: c.kind, service: self.#serviceLabel(s.service), state }, v);
          }
        }
      },
    });
    new Gauge({
      name: 'meridian_dlq_depth',
      help: 'Dead letters waiting in this region\'s DLQ (state dead, not yet replayed).',
      registers,
      async collect() {
        this.set(self.#dlqDepth ? await self.#dlqDepth().catch(() => 0) : 0);
      },
    });
    const slo = (window: '5m' | '1h'): ReturnType<SloTracker['window']> => this.slo.report().windows[window];
    new Gauge({
      name: 'meridian_slo_availability_ratio',
      help: 'Good sends / all sends through this node over the window (absent without sends).',
      labelNames: ['window'],
      registers,
      collect() {
        this.reset();
        for (const w of ['5m', '1h'] as const) {
          const v = slo(w).availability;
          if (v !== null) this.set({ window: w }, v);
        }
      },
    });
    new Gauge({
      name: 'meridian_slo_burn_rate',
      help: 'Error-budget burn rate over the window: error rate / (1 - availability target).',
      labelNames: ['window'],
      registers,
      collect() {
        this.reset();
        for (const w of ['5m', '1h'] as const) {
          const v = slo(w).burnRate;
          if (v !== null && Number.isFinite(v)) this.set({ window: w }, v);
        }
      },
    });
    new Gauge({
      name: 'meridian_slo_ok',
      help: '1 when every SLO target is met on the 5-minute window, else 0.',
      registers,
      collect() {
        this.set(self.slo.report().ok ? 1 : 0);
      },
    });
  }

  // ---- wiring ------------------------------------------------------------------------------

  /** The node's live state, read at scrape time. */
  setSources(s: NodeSources): void {
    this.#sources = s;
  }

  get sources(): NodeSources | undefined {
    return this.#sources;
  }

  /** Service and function callers whose policy state is exported (read at scrape time). */
  addCaller(c: CallerSource): void {
    this.#callers.push(c);
  }

  setDlqDepth(f: () => Promise<number>): void {
    this.#dlqDepth = f;
  }

  /** RTT to other regions, refreshed from the node's source (the source caches). */
  async refreshRtt(): Promise<Record<string, number | null>> {
    if (!this.#sources?.rtt) return this.#lastRtt;
    const before = this.#lastRtt;
    const now = await this.#sources.rtt().catch(() => before);
    // A region changing reachability, as this node sees it, is logged once per change.
    for (const [peer, ms] of Object.entries(now)) {
      const was = before[peer];
      if (was !== undefined && (was === null) !== (ms === null)) {
        if (ms === null) this.log.warn({ event: 'peer_unreachable', peer }, `region ${peer} unreachable from this node`);
        else this.log.info({ event: 'peer_reachable', peer, rttMs: ms }, `region ${peer} reachable again`);
      }
    }
    this.#lastRtt = now;
    return now;
  }

  get lastRtt(): Record<string, number | null> {
    return this.#lastRtt;
  }

  get busStatusName(): string {
    return this.#busStatus;
  }

  // ---- events (hot path first) -------------------------------------------------------------

  connectionOpened(): void {
    this.#connectionsOpened++;
  }

  /** A connection authenticated as `user` (a session began) / such a session ended. */
  sessionStarted(user: string): void {
    this.#authenticated = (this.#authenticated ?? 0) + 1;
    this.#users.set(user, (this.#users.get(user) ?? 0) + 1);
  }

  sessionEnded(user: string): void {
    if (this.#authenticated !== undefined && this.#authenticated > 0) this.#authenticated--;
    const n = this.#users.get(user);
    if (n === undefined) return;
    if (n <= 1) this.#users.delete(user);
    else this.#users.set(user, n - 1);
  }

  /** Distinct users with a session on this node. */
  get presentUsers(): number {
    return this.#users.size;
  }

  /** Authenticated sessions, when the node reports them (undefined: it does not). */
  get authenticatedSessions(): number | undefined {
    return this.#authenticated;
  }

  /**
   * A live message reached this node and was handed to `sessions` local sessions; `timestamp`
   * is the home's stamp (ms since epoch), `source` the region that accepted the send.
   */
  delivered(source: string | undefined, timestamp: number | undefined, sessions: number): void {
    const i = source === undefined ? this.regions.length : (this.#regionIndex.get(source) ?? this.regions.length);
    this.#deliveries[i]! += sessions;
    this.deliveryRate.add(sessions);
    if (source !== undefined) {
      const key = i < this.regions.length ? source : 'unknown';
      this.deliveredFrom.add(key, sessions);
      this.deliveredFromNow.add(key, sessions);
    }
    if (timestamp !== undefined) {
      const ms = Math.max(0, this.clock() - timestamp);
      this.#latencyBy[i]!.observe(ms / 1000);
      this.slo.latency(ms);
    }
  }

  /**
   * A send through this node finished: `durability` is what the ack said (accepted, duplicate),
   * else what the send asked for or would have had (rejected, failed).
   */
  sendDone(outcome: SendOutcome, durability: SendDurability): void {
    const d = durability === 'replicated' ? 1 : 0;
    this.#sentCounts[d * SEND_OUTCOMES.length + SEND_OUTCOMES.indexOf(outcome)]! += 1;
    if (outcome !== 'rejected') {
      this.slo.outcome(outcome !== 'failed');
      this.sendRate.add();
    }
  }

  appended(seconds: number): void {
    this.appendLatency.observe(seconds);
  }

  replicated(lagSeconds: number): void {
    this.replicationLag.observe(lagSeconds);
    this.#lagRing.add(bucketOf(SLO_BOUNDS_MS, lagSeconds * 1000));
  }

  replicationFailed(): void {
    this.#replicationFailures.inc();
    this.#replicationFailureRate.add();
  }

  /** /stats' replication figures: lag p99 and copies over 5 min (null lag: no copy), failed copies in the last minute. */
  replicationSummary(): { lagP99Ms: number | null; copies5m: number; failures1m: number } {
    const counts = this.#lagRing.sum(WINDOWS_MS['5m']);
    let copies = 0;
    for (const c of counts) copies += c;
    return { lagP99Ms: quantileFromBuckets(SLO_BOUNDS_MS, counts, 0.99), copies5m: copies, failures1m: this.#replicationFailureRate.count() };
  }

  /**
   * A takeover became known here (src/failover: this region won it, is the fenced home, or heard
   * of it): the conversations homed in `home` are written by `owner`. A pair is counted once,
   * however often it is heard (a fence record is never changed or removed).
   */
  failoverTakeover(home: string, owner: string): void {
    const h = this.regions.includes(home) ? home : 'unknown';
    const o = this.regions.includes(owner) ? owner : 'unknown';
    const key = `${h}|${o}`;
    if (this.#takeoverPairs.has(key)) return;
    this.#takeoverPairs.set(key, { home: h, owner: o });
    this.#takeovers.inc({ home_region: h, owner_region: o });
  }

  /** /stats' takeovers: how many this node knows of, which, and the homes this region writes for. */
  takeoverSummary(): { count: number; known: { home: string; owner: string }[]; writesFor: string[] } {
    const known = [...this.#takeoverPairs.values()].map((p) => ({ ...p }));
    return { count: known.length, known, writesFor: known.filter((p) => p.owner === this.region).map((p) => p.home) };
  }

  failoverAside(entries: number): void {
    this.#failoverAside.inc(entries);
  }

  busStatus(type: 'disconnected' | 'reconnecting' | 'reconnected' | 'error' | 'closed'): void {
    const before = this.#busStatus;
    if (type === 'disconnected') {
      if (before === 'connected') this.busDisconnects.inc();
      this.#busStatus = 'disconnected';
    } else if (type === 'reconnecting') this.#busStatus = 'reconnecting';
    else if (type === 'reconnected') {
      this.busReconnects.inc();
      this.#busStatus = 'connected';
    } else if (type === 'closed') this.#busStatus = 'closed';
    if (before !== this.#busStatus) this.log.info({ event: 'bus_status', from: before, to: this.#busStatus }, `bus ${this.#busStatus}`);
  }

  #sendFailLogAt = 0;
  #sendFailSuppressed = 0;

  /** A send failed on our side: logged with its trace ids, at most one line a second (the rest counted in the next). */
  sendFailed(code: string, trace: { traceId?: string; spanId?: string }): void {
    const now = this.clock();
    if (now - this.#sendFailLogAt < 1000) {
      this.#sendFailSuppressed++;
      return;
    }
    this.#sendFailLogAt = now;
    const suppressed = this.#sendFailSuppressed;
    this.#sendFailSuppressed = 0;
    this.log.warn({ event: 'send_failed', code, ...trace, ...(suppressed > 0 ? { suppressed } : {}) }, 'a send failed');
  }

  slowConsumerGap(): void {
    this.slowConsumerGaps.inc();
  }

  slowConsumerClosed(reason: string): void {
    this.slowConsumerCloses.inc({ reason });
    this.log.warn({ event: 'slow_consumer', reason }, 'connection closed: slow consumer');
  }

  rateLimit(scope: 'frame' | 'http'): void {
    this.rateLimited.inc({ scope });
  }

  authFailed(reason: AuthFailureReason, transport: 'ws' | 'http', traceIds?: { traceId?: string }): void {
    this.authFailures.inc({ reason, transport });
    this.log.warn({ event: 'auth_failed', reason, transport, ...traceIds }, 'authentication failed');
  }

  serviceCall(kind: CallKind, service: string, outcome: CallOutcome, seconds: number): void {
    const key = `${kind}:${service}`;
    let c = this.#calls.get(key);
    if (c === undefined) {
      const s = this.#serviceLabel(service);
      const labelled = `${kind}:${s}`;
      c = this.#calls.get(labelled) ?? { kind, service: s, outcomes: new Float64Array(CALL_OUTCOMES.length), duration: this.serviceDuration.labels(kind, s) };
      this.#calls.set(labelled, c);
      // A name past the cap shares `other`'s series, not a key of its own (the map stays bounded).
      if (s === service) this.#calls.set(key, c);
    }
    c.outcomes[CALL_OUTCOMES.indexOf(outcome)]! += 1;
    c.duration.observe(seconds);
  }

  /** Service names are operator-chosen, but capped so a misbehaving worker cannot explode series. */
  #serviceLabel(name: string): string {
    if (this.#services.has(name)) return name;
    if (this.#services.size >= MAX_SERVICES) return 'other';
    this.#services.add(name);
    return name;
  }

  /** Value of a series (tests, /stats). */
  deliveriesFrom(source: string): number {
    return this.#deliveries[this.#regionIndex.get(source) ?? this.regions.length]!;
  }
}

export interface EdgeSources {
  regions(): readonly string[];
  healthy(region: string): boolean;
  connections(region: string): number;
  rps(region: string): number;
}

/** The edge's metrics: requests, steering decisions, region health as the edge sees it. */
export class EdgeMetrics {
  readonly registry = new Registry();
  readonly clock: Clock;
  readonly startedAt: number;
  readonly log: Logger;
  readonly decisions: Counter<'region' | 'reason'>;
  readonly requests: Counter<'route' | 'code'>;
  readonly rateLimited: Counter;
  readonly healthTransitions: Counter<'region' | 'to'>;
  readonly proxyErrors: Counter<'region' | 'transport'>;
  readonly decisionsByRegion: KeyedRates;
  readonly decisionsByReason: KeyedRates;
  readonly requestRate: RateWindow;
  #sources: EdgeSources | undefined;

  constructor(o: { clock?: Clock; log?: Logger; regions: readonly string[] }) {
    this.clock = o.clock ?? Date.now;
    this.startedAt = this.clock();
    this.log = o.log ?? silentLogger();
    this.decisionsByRegion = new KeyedRates(this.clock, o.regions.length + 1);
    this.decisionsByReason = new KeyedRates(this.clock, 32);
    this.requestRate = new RateWindow(this.clock);
    this.registry.setDefaultLabels({ component: 'edge' });
    const registers = [this.registry];
    // prom-client calls collect() with `this` bound to the metric: the component is reached by name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({ name: 'meridian_edge_info', help: 'Constant 1, labelled with the Meridian version.', labelNames: ['version'], registers }).set({ version: VERSION }, 1);
    this.requests = new Counter({ name: 'meridian_edge_requests_total', help: 'HTTP requests to the edge, by route (route, regions, admin, proxy, health, ready, metrics, stats, slo, other) and status class.', labelNames: ['route', 'code'], registers });
    this.decisions = new Counter({ name: 'meridian_edge_decisions_total', help: 'Steering decisions, by chosen region ("none": nothing could serve) and reason.', labelNames: ['region', 'reason'], registers });
    this.rateLimited = new Counter({ name: 'meridian_edge_rate_limited_total', help: 'Requests and upgrades refused by the edge\'s per-address rate limit.', registers });
    this.healthTransitions = new Counter({ name: 'meridian_edge_health_transitions_total', help: 'Region health changes seen by the edge, by region and new state (healthy, unhealthy).', labelNames: ['region', 'to'], registers });
    this.proxyErrors = new Counter({ name: 'meridian_edge_proxy_errors_total', help: 'Proxied requests or WebSocket dials that failed to reach the region, by region and transport.', labelNames: ['region', 'transport'], registers });
    new Gauge({
      name: 'meridian_edge_region_healthy',
      help: '1 when the edge considers the region healthy (probes up and not ejected), else 0.',
      labelNames: ['region'],
      registers,
      collect() {
        const s = self.#sources;
        if (!s) return;
        for (const r of s.regions()) this.set({ region: r }, s.healthy(r) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'meridian_edge_connections',
      help: 'WebSocket connections the edge bridges to each region now.',
      labelNames: ['region'],
      registers,
      collect() {
        const s = self.#sources;
        if (!s) return;
        for (const r of s.regions()) this.set({ region: r }, s.connections(r));
      },
    });
    new Gauge({
      name: 'meridian_edge_region_rps',
      help: 'Proxied requests per second to each region (the load steering sees).',
      labelNames: ['region'],
      registers,
      collect() {
        const s = self.#sources;
        if (!s) return;
        for (const r of s.regions()) this.set({ region: r }, s.rps(r));
      },
    });
  }

  setSources(s: EdgeSources): void {
    this.#sources = s;
  }

  get sources(): EdgeSources | undefined {
    return this.#sources;
  }

  decision(region: string | null, reason: string): void {
    const r = region ?? 'none';
    this.decisions.inc({ region: r, reason });
    this.decisionsByRegion.add(r);
    this.decisionsByReason.add(reason);
  }

  request(route: string, status: number): void {
    this.requests.inc({ route, code: `${Math.floor(status / 100)}xx` });
    this.requestRate.add();
  }

  healthChanged(region: string, healthy: boolean, detail: Record<string, unknown> = {}): void {
    this.healthTransitions.inc({ region, to: healthy ? 'healthy' : 'unhealthy' });
    this.log[healthy ? 'info' : 'warn']({ event: healthy ? 'region_up' : 'region_down', region, ...detail }, `region ${region} ${healthy ? 'healthy' : 'unhealthy'}`);
  }
}
