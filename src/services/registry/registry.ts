/**
 * The worker registry: global (one KV bucket, every region reads and writes it), with a local
 * view per region node so queries never leave the process.
 *
 * Writes are compare-and-set on the key's revision, so concurrent writers serialise instead of
 * overwriting each other: a heartbeat that races an eviction either lands first (the evictor's
 * CAS fails, the worker lives) or second (the heartbeat finds a tombstone and the worker is told
 * to register again). Eviction is done by whichever region node notices first; the others'
 * CAS fails on the tombstone's revision and they simply drop the worker when the tombstone
 * reaches their view. Nothing is ever deleted by an evictor, so an eviction can never remove a
 * registration that replaced the one it judged dead; tombstones are collected by the bucket TTL.
 */
import type { Kv, KvEntry, KvWatch } from '../../bus/types.js';
import { buckets } from '../../bus/subjects.js';
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import type { Endpoint, FunctionInstance, ServiceSummary, Tombstone, WorkerLease, WorkerLoad, WorkerRecord, WorkerRegistration, WorkerView } from './types.js';
import { assertLoad, assertRegistration, functionUrls, isWorkerId, normaliseServices } from './validate.js';
import { RegistryView, decodeRecord, encodeRecord } from './view.js';
import { orderEndpoints, orderFunctionInstances } from './order.js';
import { checkOptions } from './options.js';
import type { RegistryOptions, RegistryStats } from './options.js';

const CAS_ATTEMPTS = 5;
const ENDPOINT_CACHE_MS = 200;
const TTL_FLOOR_MS = 10 * 60_000;

const isCode = (err: unknown, code: ErrorCode): boolean => isMeridianError(err, code);

export class Registry {
  private readonly view: RegistryView;
  private readonly now: () => number;
  private watch: KvWatch | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private closed = false;
  private readonly endpointCache = new Map<string, { version: number; at: number; list: readonly Endpoint[] }>();
  private evictions = 0;
  private evictionConflicts = 0;
  private watchRestarts = 0;
  readonly heartbeatIntervalMs: number;
  readonly staleAfterMs: number;
  readonly evictAfterMs: number;

  private constructor(
    private readonly opts: RegistryOptions,
    private readonly kv: Kv,
  ) {
    this.now = opts.now ?? Date.now;
    this.view = new RegistryView(this.now);
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 5000;
    this.staleAfterMs = this.heartbeatIntervalMs * (opts.missedHeartbeats ?? 3);
    this.evictAfterMs = Math.max(opts.evictAfterMs ?? 60_000, this.staleAfterMs);
  }

  /** Open the bucket (creating it if needed) and start following it. */
  static async open(opts: RegistryOptions): Promise<Registry> {
    checkOptions(opts);
    const evictAfter = opts.evictAfterMs ?? 60_000;
    // The TTL only collects tombstones and records no node ever evicted; live records are
    // rewritten by every heartbeat, far more often than this.
    const kv = await opts.bus.kv(opts.bucket ?? buckets.name('workers'), {
      ttlMs: Math.max(TTL_FLOOR_MS, evictAfter * 10),
      ...(opts.home !== undefined ? { region: opts.home } : {}),
    });
    const registry = new Registry(opts, kv);
    await registry.start();
    return registry;
  }

  /** Register (or re-register) a worker; every problem with the registration is reported at once. */
  async register(reg: WorkerRegistration): Promise<WorkerLease> {
    this.assertOpen();
    const valid = assertRegistration(reg, { regions: this.opts.regions, functions: this.opts.functions });
    const at = Date.now();
    const record: WorkerRecord = {
      v: 1,
      kind: 'worker',
      id: valid.id,
      region: valid.region,
      services: normaliseServices(valid),
      functions: (valid.functions ?? []).map((f) => f.name),
      functionUrls: functionUrls(valid),
      load: { inFlight: 0, metrics: {} },
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      staleAfterMs: this.staleAfterMs,
      evictAfterMs: this.evictAfterMs,
      registeredAt: at,
      heartbeatAt: at,
    };
    const revision = await this.casWrite(valid.id, () => record);
    return { id: valid.id, heartbeatIntervalMs: this.heartbeatIntervalMs, staleAfterMs: this.staleAfterMs, evictAfterMs: this.evictAfterMs, revision };
  }

  /** Record a heartbeat with the worker's load. `SVC_UNKNOWN_WORKER` when it must register again. */
  async heartbeat(id: string, load: WorkerLoad): Promise<{ revision: number }> {
    this.assertOpen();
    const valid = assertLoad(load);
    // An id no registration could have (the path is the caller's): unknown, without asking the KV.
    if (!isWorkerId(id)) throw new MeridianError(ErrorCode.SvcUnknownWorker, `worker ${JSON.stringify(id.slice(0, 140))} is not registered: ids are 1-128 characters of [A-Za-z0-9_-]`, { details: { id: id.slice(0, 140) } });
    const revision = await this.casWrite(id, (cur) => {
      if (!cur) throw new MeridianError(ErrorCode.SvcUnknownWorker, `worker ${JSON.stringify(id)} is not registered (evicted or never registered): register again`, { details: { id } });
      return { ...cur, load: { inFlight: valid.inFlight, metrics: { ...(valid.metrics ?? {}) } }, heartbeatAt: Date.now() };
    });
    return { revision };
  }

  /** Remove a worker (its own graceful exit). Idempotent. */
  async deregister(id: string): Promise<void> {
    this.assertOpen();
    if (!isWorkerId(id)) return; // never registered: nothing to remove
    await this.kv.delete(id);
    this.view.forget(id);
  }

  /** Every worker in this region's view, with its health. */
  workers(): WorkerView[] {
    return this.view.all();
  }

  worker(id: string): WorkerView | undefined {
    return this.view.get(id);
  }

  services(): ServiceSummary[] {
    const by = new Map<string, { endpoints: number; healthy: number; regions: Set<string> }>();
    for (const w of this.view.all()) {
      for (const s of w.record.services) {
        const e = by.get(s.name) ?? { endpoints: 0, healthy: 0, regions: new Set<string>() };
        e.endpoints++;
        if (w.health === 'healthy') e.healthy++;
        e.regions.add(w.record.region);
        by.set(s.name, e);
      }
    }
    return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([name, e]) => ({ name, endpoints: e.endpoints, healthy: e.healthy, regions: [...e.regions].sort() }));
  }

  /**
   * Healthy endpoints of a service: `fromRegion` first, then other regions by RTT. Called on
   * every proxied attempt, so the answer is cached until the view changes or `ENDPOINT_CACHE_MS`
   * passes (health turns stale on a clock, at a granularity of seconds).
   */
  endpoints(name: string, fromRegion: string = this.opts.bus.region): readonly Endpoint[] {
    const key = `${fromRegion}|${name}`;
    const at = this.now();
    const hit = this.endpointCache.get(key);
    if (hit && hit.version === this.view.version && at - hit.at < ENDPOINT_CACHE_MS && at >= hit.at) return hit.list;
    const all = this.view.all();
    const list = orderEndpoints(all, name, fromRegion, this.opts.rtt ?? (() => 0), this.isPanic(all));
    if (this.endpointCache.size > 4096) this.endpointCache.clear();
    this.endpointCache.set(key, { version: this.view.version, at, list });
    return list;
  }

  /** Healthy instances of a function: `fromRegion` first, then other regions by RTT. */
  functionInstances(name: string, fromRegion: string = this.opts.bus.region): FunctionInstance[] {
    const all = this.view.all();
    return orderFunctionInstances(all, name, fromRegion, this.opts.rtt ?? (() => 0), this.isPanic(all));
  }

  stats(): RegistryStats {
    const all = this.view.all();
    return {
      workers: all.length,
      stale: all.filter((w) => w.health === 'stale').length,
      panic: this.isPanic(all),
      evictions: this.evictions,
      evictionConflicts: this.evictionConflicts,
      watchRestarts: this.watchRestarts,
    };
  }

  /**
   * Evict every worker silent for longer than its eviction time. Safe to run in every region at
   * once: each eviction is a CAS on the revision this view judged, so only one writer wins and a
   * worker that heartbeated meanwhile is left alone. Returns how many this call evicted.
   */
  async sweep(): Promise<number> {
    if (this.closed || this.sweeping) return 0;
    this.sweeping = true;
    let evicted = 0;
    try {
      for (const w of this.view.all()) {
        if (w.ageMs <= w.record.evictAfterMs) continue;
        const tomb: Tombstone = { v: 1, kind: 'evicted', id: w.record.id, by: this.opts.bus.region, at: Date.now() };
        try {
          const revision = await this.kv.update(w.record.id, encodeRecord(tomb), w.revision);
          this.view.apply({ key: w.record.id, value: encodeRecord(tomb), revision, operation: 'PUT', created: Date.now() });
          this.evictions++;
          evicted++;
        } catch (err) {
          if (!isCode(err, ErrorCode.KvWrongRevision)) throw err;
          this.evictionConflicts++;
          // Someone wrote first (a heartbeat, another evictor, a delete our watch missed): read
          // the truth so a ghost entry cannot linger in this view.
          const cur = await this.kv.get(w.record.id);
          if (cur) this.view.apply(cur);
          else this.view.forget(w.record.id);
        }
      }
    } finally {
      this.sweeping = false;
    }
    return evicted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.watch?.stop();
    await Promise.resolve();
  }

  private isPanic(all: readonly WorkerView[]): boolean {
    const threshold = this.opts.panicThreshold ?? 0.5;
    if (all.length === 0 || threshold === 0) return false;
    return all.filter((w) => w.health === 'healthy').length / all.length < threshold;
  }

  private async start(): Promise<void> {
    this.watch = await this.kv.watch();
    void this.follow(this.watch);
    const every = this.opts.sweepIntervalMs ?? this.heartbeatIntervalMs;
    if (every > 0) {
      this.sweepTimer = setInterval(() => {
        this.sweep().catch((err: unknown) => this.report(err));
      }, every);
      this.sweepTimer.unref();
    }
  }

  /** Apply the watch to the view; if it ends while we are open, start a new one (with backoff). */
  private async follow(watch: KvWatch): Promise<void> {
    try {
      for await (const entry of watch) this.view.apply(entry);
    } catch (err) {
      this.report(err);
    }
    for (let delay = 100; !this.closed; delay = Math.min(delay * 2, 5000)) {
      await new Promise((r) => setTimeout(r, delay).unref());
      if (this.closed) return;
      try {
        this.watch = await this.kv.watch();
        this.watchRestarts++;
        return void this.follow(this.watch);
      } catch (err) {
        this.report(err);
      }
    }
  }

  /** Read-modify-write with CAS; `make(null)` when the key is absent or holds a tombstone. */
  private async casWrite(id: string, make: (cur: WorkerRecord | null) => WorkerRecord): Promise<number> {
    let lastErr: unknown;
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const cur: KvEntry | null = await this.kv.get(id);
      const decoded = cur ? decodeRecord(cur.value) : null;
      const record = make(decoded?.kind === 'worker' ? decoded : null);
      const bytes = encodeRecord(record);
      try {
        // `make` has already refused an absent worker where one is required (heartbeat).
        const revision = cur ? await this.kv.update(id, bytes, cur.revision) : await this.kv.create(id, bytes);
        this.view.apply({ key: id, value: bytes, revision, operation: 'PUT', created: Date.now() });
        return revision;
      } catch (err) {
        if (!isCode(err, ErrorCode.KvWrongRevision) && !isCode(err, ErrorCode.KvKeyExists)) throw err;
        lastErr = err;
      }
    }
    throw new MeridianError(ErrorCode.BusUnavailable, `worker ${JSON.stringify(id)}: ${CAS_ATTEMPTS} conflicting writes in a row`, { cause: lastErr, details: { id } });
  }

  private assertOpen(): void {
    if (this.closed) throw new MeridianError(ErrorCode.BusClosed, 'the registry is closed');
  }

  private report(err: unknown): void {
    if (!this.closed) this.opts.onError?.(err);
  }
}
