/**
 * The dashboard's view of each region node: `GET <region>/stats` fetched by the edge once a
 * second (in parallel), the last good answer cached with its age, and the edge→region round trip
 * timed on `GET /health`, which answers at once (/stats may wait on the node's peers across the
 * WAN, so its duration is not the distance to the node).
 *
 * Why not read the numbers from the process: in production the edge and the regions are
 * different machines; /stats is the one interface both the embedded runtime and a real
 * deployment have. Every field is optional here: a node without /stats (404), an older node or a
 * field not reported yet shows "–" on the page instead of breaking it. Polling runs only while a
 * dashboard is open (start/stop), so an edge nobody watches does no extra work.
 */

export interface LatencyMs {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export interface SloView {
  readonly ok: boolean | null;
  readonly availability: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
  readonly burnRate5m: number | null;
  readonly burnRate1h: number | null;
}

export interface ReplicationView {
  /** p99 of the copy lag (append → held by the replica) over 5 min; null: no copy. */
  readonly lagP99Ms: number | null;
  readonly copies5m: number | null;
  readonly failures1m: number | null;
}

export interface TakeoversView {
  readonly count: number | null;
  /** Takeovers the node knows of: conversations homed in `home` are written by `owner`. */
  readonly known: readonly { readonly home: string; readonly owner: string }[];
  /** Homes whose conversations this node's region writes now. */
  readonly writesFor: readonly string[];
}

/** One node's /stats, reduced to the fields the dashboard shows; null where not reported. */
export interface NodeStats {
  readonly node: string | null;
  readonly uptimeS: number | null;
  readonly sessions: number | null;
  readonly connections: number | null;
  readonly messagesPerSec: number | null;
  readonly deliveriesPerSec: number | null;
  /** Deliveries per second from this region to each other region (1-min rates). */
  readonly crossRegion: Readonly<Record<string, number>>;
  /** The same over the last 5 s; null from a node that does not report it. */
  readonly crossRegionNow: Readonly<Record<string, number>> | null;
  readonly latencyMs: LatencyMs | null;
  readonly bus: { readonly status: string | null; readonly rttMs: Readonly<Record<string, number>> } | null;
  readonly slo: SloView | null;
  readonly replication: ReplicationView | null;
  readonly takeovers: TakeoversView | null;
}

export interface RegionStatsEntry {
  /** Last good /stats answer, or null (none yet, not served, or the region is unreachable). */
  readonly stats: NodeStats | null;
  /** Epoch ms of that answer. */
  readonly at: number | null;
  /** Round trip of the last `GET /health`, ms; null when it failed. */
  readonly rttMs: number | null;
  /** Why the last fetch failed (`unreachable`, `timeout`, `http 404`…), or null. */
  readonly error: string | null;
}

export const STATS_INTERVAL_MS = 1000;
/** /stats asks the node's peers (cross-region counts, bus round trips): allow a WAN round trip or two. */
export const STATS_TIMEOUT_MS = 1500;
export const RTT_TIMEOUT_MS = 400;
/** Stats older than this are not shown as current (the node stopped answering). */
export const STATS_STALE_MS = 5000;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const obj = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

function numbers(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(obj(v) ?? {})) {
    const n = num(x);
    if (n !== null) out[k] = n;
  }
  return out;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function pairs(v: unknown): { home: string; owner: string }[] {
  if (!Array.isArray(v)) return [];
  const out: { home: string; owner: string }[] = [];
  for (const x of v) {
    const p = obj(x);
    const home = str(p?.home);
    const owner = str(p?.owner);
    if (home !== null && owner !== null) out.push({ home, owner });
  }
  return out;
}

/** The agreed node /stats shape (docs/observability.md), read defensively. */
export function parseNodeStats(body: unknown): NodeStats {
  const b = obj(body) ?? {};
  const lat = obj(b.latencyMs);
  const bus = obj(b.bus);
  const slo = obj(b.slo);
  const rep = obj(b.replication);
  const tk = obj(b.takeovers);
  return {
    node: str(b.node),
    uptimeS: num(b.uptimeS),
    sessions: num(b.sessions),
    connections: num(b.connections),
    messagesPerSec: num(b.messagesPerSec),
    deliveriesPerSec: num(b.deliveriesPerSec),
    crossRegion: numbers(b.crossRegion),
    crossRegionNow: obj(b.crossRegionNow) === null ? null : numbers(b.crossRegionNow),
    latencyMs: lat === null ? null : { p50: num(lat.p50), p95: num(lat.p95), p99: num(lat.p99) },
    bus: bus === null ? null : { status: str(bus.status), rttMs: numbers(bus.rttMs) },
    slo:
      slo === null
        ? null
        : { ok: bool(slo.ok), availability: num(slo.availability), p95Ms: num(slo.p95Ms), p99Ms: num(slo.p99Ms), burnRate5m: num(slo.burnRate5m), burnRate1h: num(slo.burnRate1h) },
    replication: rep === null ? null : { lagP99Ms: num(rep.lagP99Ms), copies5m: num(rep.copies5m), failures1m: num(rep.failures1m) },
    takeovers: tk === null ? null : { count: num(tk.count), known: pairs(tk.known), writesFor: strings(tk.writesFor) },
  };
}

const EMPTY: RegionStatsEntry = { stats: null, at: null, rttMs: null, error: null };

export class RegionStatsPoller {
  readonly #entries = new Map<string, RegionStatsEntry>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;

  constructor(
    private readonly urls: ReadonlyMap<string, URL>,
    private readonly clock: () => number = Date.now,
  ) {}

  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Poll now and then every STATS_INTERVAL_MS until stop(). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.poll(), STATS_INTERVAL_MS);
    this.#timer.unref();
    void this.poll();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The cached entry; stats older than STATS_STALE_MS are withheld (the region stopped answering). */
  get(region: string): RegionStatsEntry {
    const e = this.#entries.get(region) ?? EMPTY;
    if (e.at !== null && this.clock() - e.at > STATS_STALE_MS) return { ...e, stats: null };
    return e;
  }

  /** One round over every region; a round still running is not doubled. */
  async poll(): Promise<void> {
    if (this.#inFlight) return;
    this.#inFlight = true;
    try {
      await Promise.all([...this.urls].map(([region, url]) => Promise.all([this.#fetchStats(region, url), this.#timeHealth(region, url)])));
    } finally {
      this.#inFlight = false;
    }
  }

  async #fetchStats(region: string, base: URL): Promise<void> {
    try {
      const res = await fetch(new URL('/stats', base), { signal: AbortSignal.timeout(STATS_TIMEOUT_MS), headers: { accept: 'application/json' } });
      if (!res.ok) {
        await res.body?.cancel();
        this.#update(region, { stats: null, error: `http ${res.status}` });
        return;
      }
      const stats = parseNodeStats(await res.json());
      this.#update(region, { stats, at: this.clock(), error: null });
    } catch (err) {
      const name = (err as Error).name;
      this.#update(region, { error: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable' });
    }
  }

  async #timeHealth(region: string, base: URL): Promise<void> {
    const t0 = performance.now();
    try {
      const res = await fetch(new URL('/health', base), { signal: AbortSignal.timeout(RTT_TIMEOUT_MS) });
      await res.arrayBuffer();
      this.#update(region, { rttMs: res.ok ? performance.now() - t0 : null });
    } catch {
      this.#update(region, { rttMs: null });
    }
  }

  #update(region: string, patch: Partial<RegionStatsEntry>): void {
    this.#entries.set(region, { ...(this.#entries.get(region) ?? EMPTY), ...patch });
  }
}
