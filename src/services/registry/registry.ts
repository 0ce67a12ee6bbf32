/**
 * The worker registry: one KV bucket per region (`placed.workers(region)`, src/placement), with a
 * local view per region node so queries never leave the process.
 *
 * A region node writes the registrations, heartbeats and deregistrations it receives into its own
 * region's bucket (a local write), and follows every region's bucket into one merged view
 * (merge.ts): a worker found in several buckets, because it moved its heartbeats to another
 * region's node, counts once, from the freshest entry. No region is special: a dead region takes
 * only its bucket offline; its workers that heartbeat through another region's node stay fresh,
 * and registrations go on in every region that is up.
 *
 * Writes are compare-and-set on the key's revision, so concurrent writers of one bucket serialise
 * instead of overwriting each other: a heartbeat that races an eviction either lands first (the
 * evictor's CAS fails, the worker lives) or second (the heartbeat finds the tombstone and, unless
 * another bucket holds a fresh record it can adopt, tells the worker to register again). Only the
 * nodes of a bucket's own region evict from it; a record in the bucket of an unreachable region is
 * never evicted by others: it turns stale in their views when nothing refreshes it and is dropped
 * from them after its eviction time. Nothing is ever deleted by an evictor, so an eviction can
 * never remove a registration that replaced the one it judged dead; tombstones are collected by
 * the bucket TTL.
 */
import type { KvEntry } from '../../bus/types.js';
import { placed } from '../../placement/mod.js';
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import type { Endpoint, FunctionInstance, ServiceSummary, Tombstone, WorkerLease, WorkerLoad, WorkerRecord, WorkerRegistration, WorkerView } from './types.js';
import { assertLoad, assertRegistration, functionUrls, isWorkerId, normaliseServices } from './validate.js';
import { encodeRecord, toHeld } from './view.js';
import type { Held } from './view.js';
import { RegistryView, pick } from './merge.js';
import { BucketFollower } from './follow.js';
import { orderEndpoints, orderFunctionInstances, summariseServices } from './order.js';
import { checkOptions } from './options.js';
import type { RegistryOptions, RegistryStats } from './options.js';

const CAS_ATTEMPTS = 5;
const OPEN_ATTEMPTS = 3;
const ENDPOINT_CACHE_MS = 200;
const TTL_FLOOR_MS = 10 * 60_000;

const isCode = (err: unknown, code: ErrorCode): boolean => isMeridianError(err, code);

export class Registry {
  private readonly view: RegistryView;
  private readonly now: () => number;
  /** This node's region: the bucket it writes, sweeps and evicts from. */
  private readonly region: string;
  private readonly followers: BucketFollower[];
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private closed = false;
  private readonly endpointCache = new Map<string, { version: number; at: number; list: readonly Endpoint[] }>();
  private evictions = 0;
  private evictionConflicts = 0;
  readonly heartbeatIntervalMs: number;
  readonly staleAfterMs: number;
  readonly evictAfterMs: number;

  private constructor(private readonly opts: RegistryOptions) {
    this.now = opts.now ?? Date.now;
    this.region = opts.bus.region;
    this.view = new RegistryView(this.now);
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 5000;
    this.staleAfterMs = this.heartbeatIntervalMs * (opts.missedHeartbeats ?? 3);
    this.evictAfterMs = Math.max(opts.evictAfterMs ?? 60_000, this.staleAfterMs);
    // The TTL only collects tombstones and records no node ever evicted; live records are
    // rewritten by every heartbeat, far more often than this.
    const ttlMs = Math.max(TTL_FLOOR_MS, (opts.evictAfterMs ?? 60_000) * 10);
    const regions = [...new Set([this.region, ...(opts.regions ?? [])])];
    this.followers = regions.map((region) => {
      const place = placed.workers(region);
      return new BucketFollower({
        bus: opts.bus,
        place: opts.bucketOf ? { ...place, name: opts.bucketOf(region) } : place,
        ttlMs,
        view: this.view.bucket(region),
        report: (err) => this.report(err),
      });
    });
  }

  /**
   * Open this region's bucket (creating it if needed) and start following it; every other known
   * region's bucket is followed as soon as it can be reached (a region that is down delays nothing).
   */
  static async open(opts: RegistryOptions): Promise<Registry> {
    checkOptions(opts);
    const registry = new Registry(opts);
    const [own, ...others] = registry.followers;
    try {
      await own!.connectWithRetries(OPEN_ATTEMPTS);
    } catch (err) {
      await registry.close();
      throw err;
    }
    for (const f of others) f.connectInBackground();
    registry.startSweeping();
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

  /**
   * Record a heartbeat with the worker's load, in this region's bucket. A worker this bucket does
   * not hold (it heartbeated through another region's node until now) is adopted from the
   * freshest record any bucket holds. `SVC_UNKNOWN_WORKER` when it must register again.
   */
  async heartbeat(id: string, load: WorkerLoad): Promise<{ revision: number }> {
    this.assertOpen();
    const valid = assertLoad(load);
    // An id no registration could have (the path is the caller's): unknown, without asking the KV.
    if (!isWorkerId(id)) throw new MeridianError(ErrorCode.SvcUnknownWorker, `worker ${JSON.stringify(id.slice(0, 140))} is not registered: ids are 1-128 characters of [A-Za-z0-9_-]`, { details: { id: id.slice(0, 140) } });
    const revision = await this.casWrite(id, (cur) => {
      // This bucket as just read, every other bucket as this view last saw it.
      const others = this.view.candidates(id).filter((h) => h.region !== this.region);
      const best = pick(cur ? [...others, cur] : others, this.now());
      if (!best) throw new MeridianError(ErrorCode.SvcUnknownWorker, `worker ${JSON.stringify(id)} is not registered (evicted, deregistered or never registered): register again`, { details: { id } });
      return { ...best.record, load: { inFlight: valid.inFlight, metrics: { ...(valid.metrics ?? {}) } }, heartbeatAt: Date.now() };
    });
    return { revision };
  }

  /**
   * Remove a worker (its own graceful exit): a deregistration in this region's bucket, newer than
   * any record of the worker in any bucket, so every view drops it. Idempotent.
   */
  async deregister(id: string): Promise<void> {
    this.assertOpen();
    if (!isWorkerId(id)) return; // never registered: nothing to remove
    const mark: Tombstone = { v: 1, kind: 'deregistered', id, by: this.region, at: Date.now() };
    const bytes = encodeRecord(mark);
    const revision = await this.ownKv().put(id, bytes);
    this.ownView().apply({ key: id, value: bytes, revision, operation: 'PUT', created: Date.now() });
  }

  /** Every worker in this node's view, with its health. */
  workers(): WorkerView[] {
    return this.view.all();
  }

  worker(id: string): WorkerView | undefined {
    return this.view.get(id);
  }

  services(): ServiceSummary[] {
    return summariseServices(this.view.all());
  }

  /**
   * Healthy endpoints of a service: `fromRegion` first, then other regions by RTT. Called on
   * every proxied attempt, so the answer is cached until the view changes or `ENDPOINT_CACHE_MS`
   * passes (health turns stale on a clock, at a granularity of seconds).
   */
  endpoints(name: string, fromRegion: string = this.region): readonly Endpoint[] {
    const key = `${fromRegion}|${name}`;
    const at = this.now();
    const version = this.view.version;
    const hit = this.endpointCache.get(key);
    if (hit && hit.version === version && at - hit.at < ENDPOINT_CACHE_MS && at >= hit.at) return hit.list;
    const all = this.view.all();
    const list = orderEndpoints(all, name, fromRegion, this.opts.rtt ?? (() => 0), this.isPanic(all));
    if (this.endpointCache.size > 4096) this.endpointCache.clear();
    this.endpointCache.set(key, { version, at, list });
    return list;
  }

  /** Healthy instances of a function: `fromRegion` first, then other regions by RTT. */
  functionInstances(name: string, fromRegion: string = this.region): FunctionInstance[] {
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
      watchRestarts: this.followers.reduce((n, f) => n + f.restarts, 0),
      unfollowed: this.followers.filter((f) => f.kv === undefined).map((f) => f.region),
    };
  }

  /**
   * Evict every record of this region's bucket silent for longer than its eviction time. Safe to
   * run on every node of the region at once: each eviction is a CAS on the revision this view
   * judged, so only one writer wins and a worker that heartbeated meanwhile is left alone.
   * Other regions' buckets are never touched: what this view holds of them past its eviction time
   * is only forgotten here (see `RegistryView.prune`). Returns how many this call evicted.
   */
  async sweep(): Promise<number> {
    if (this.closed || this.sweeping) return 0;
    this.sweeping = true;
    let evicted = 0;
    try {
      const now = this.now();
      this.view.prune(this.region, this.evictAfterMs);
      const due = [...this.ownView().entries()].filter((h) => h.record !== null && now - h.seenAt > h.record.evictAfterMs);
      for (const h of due) {
        const id = h.id;
        const tomb: Tombstone = { v: 1, kind: 'evicted', id, by: this.region, at: Date.now() };
        try {
          const revision = await this.ownKv().update(id, encodeRecord(tomb), h.revision);
          this.ownView().apply({ key: id, value: encodeRecord(tomb), revision, operation: 'PUT', created: Date.now() });
          this.evictions++;
          evicted++;
        } catch (err) {
          if (!isCode(err, ErrorCode.KvWrongRevision)) throw err;
          this.evictionConflicts++;
          // Someone wrote first (a heartbeat, another evictor, a delete our watch missed): read
          // the truth so a ghost entry cannot linger in this view.
          const cur = await this.ownKv().get(id);
          if (cur) this.ownView().apply(cur);
          else this.ownView().forget(id);
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
    for (const f of this.followers) f.stop();
    await Promise.resolve();
  }

  private isPanic(all: readonly WorkerView[]): boolean {
    const threshold = this.opts.panicThreshold ?? 0.5;
    if (all.length === 0 || threshold === 0) return false;
    return all.filter((w) => w.health === 'healthy').length / all.length < threshold;
  }

  private startSweeping(): void {
    const every = this.opts.sweepIntervalMs ?? this.heartbeatIntervalMs;
    if (every > 0) {
      this.sweepTimer = setInterval(() => {
        this.sweep().catch((err: unknown) => this.report(err));
      }, every);
      this.sweepTimer.unref();
    }
  }

  private ownView(): ReturnType<RegistryView['bucket']> {
    return this.view.bucket(this.region);
  }

  private ownKv(): NonNullable<BucketFollower['kv']> {
    // Opened by `open` before the registry is handed out.
    return this.followers[0]!.kv!;
  }

  /**
   * Read-modify-write of this region's bucket with CAS. `make` gets what the bucket holds for the
   * worker (null when absent or evicted) and may refuse by throwing.
   */
  private async casWrite(id: string, make: (cur: Held | null) => WorkerRecord): Promise<number> {
    const kv = this.ownKv();
    let lastErr: unknown;
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const cur: KvEntry | null = await kv.get(id);
      const record = make(cur ? (toHeld(this.region, cur, this.now()) ?? null) : null);
      const bytes = encodeRecord(record);
      try {
        // `make` has already refused an absent worker where one is required (heartbeat).
        const revision = cur ? await kv.update(id, bytes, cur.revision) : await kv.create(id, bytes);
        this.ownView().apply({ key: id, value: bytes, revision, operation: 'PUT', created: Date.now() });
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
