/**
 * `KvPresence`: presence on the bus KV, so the same code runs on the embedded bus and on NATS.
 *
 * Placement (src/placement): no region is special. Every region has its own presence bucket,
 * `placed.presence(region)` (`mrd-presence-<region>`), held by that region's servers. A node writes
 * only into its own region's bucket, so a presence change is a local write, never a WAN round
 * trip; it watches every region's bucket (its own here, the others in regions.ts) and merges them
 * into one view (view.ts), its local copy: reads and events come from it, never from the network.
 * Losing a region loses only what that region's nodes report.
 *
 * Keys (keys.ts), each in the bucket of the writing node's region:
 *   n.<region>.<node>              { epoch, beat, at }   liveness, rewritten every ttl/3
 *   u.<user>.<region>.<node>       { epoch, sessions }   a user's sessions on one node
 *   r.<room>.<user>.<region>.<node> { epoch, sessions }  that user's sessions joined to a room
 * Each node writes only its own keys, only on change (write-behind, coalesced per
 * `flushDelayMs`, local.ts/writer.ts), and deletes a key when its count has stayed 0 for the
 * grace. So a node costs one write per ttl/3 however many users it holds, plus one write per real
 * change; a reconnect within the flush delay costs nothing, one within the grace two writes.
 * The node's own keys enter its view directly from the local state (read-your-writes; echoes of
 * them are only checked, see `ownEntry`).
 *
 * Liveness: a record counts while its node's liveness key carries the record's epoch (one epoch
 * per run of a node, so keys left by a crashed run never count again) and this view has seen that
 * key change within `ttlMs`, judged on this view's clock when it saw the change, never on remote
 * clocks. A node that dies stops beating; after ttl every view that hears its region's bucket
 * drops its records (events emitted). Its keys are then tombstoned by the live nodes of its own
 * region (nobody writes another region's bucket): compare-and-set on the revision the view judged,
 * so a collector can never erase a record written after its judgement, and racing collectors are
 * harmless (one wins, the others get a wrong revision). The region's live node with the smallest
 * id collects after ttl, the others only after 3 × ttl, so collection is rarely doubled. Keys of a
 * region left without live nodes wait for the next node to start there (they never count again:
 * old epoch) or for the bucket's max age. A live node that finds one of its keys removed by
 * someone else writes it again.
 *
 * Grace: when a user's (or membership's) last session on a node goes, the node writes
 * `sessions: 0` and keeps the key for `graceMs`; the user stays online (counted with 0
 * connections in the region) and a session anywhere within the grace means no offline/online
 * flap. The grace queue is one timer, not one per key.
 *
 * Outages: calls never throw on a bus outage. A failed write pauses the writer; the node retries
 * its liveness write with backoff and, once it lands (or the bus reports `reconnected`), re-sends
 * its whole state, since its keys may have been collected meanwhile.
 *
 * Partitions and dead regions, per bucket:
 * - Own bucket: the view hears it while its own beat comes back (at most half a beat late). A
 *   view that does not hear it (its region's servers are down or out of reach, so in practice it
 *   hears nothing at all) freezes: expires nobody, collects nothing, keeps showing the last state
 *   it knew plus its own users, and local changes queue. Time a view spent not hearing its own
 *   bucket does not count against anyone's ttl. When it hears again, the watches replay what they
 *   missed in revision order, so nodes that beat meanwhile are fresh again before our own echo
 *   arrives, and the node re-sends its state.
 * - Another region X's bucket (regions.ts): heard while it delivers the beats of X's live nodes,
 *   or answers a probe when one of X's nodes is overdue. A view that hears its own bucket but not
 *   X's (X down, or the link to it cut) does not drop X's users at ttl: they are probably
 *   reconnecting to another region. X's nodes get `graceMs` beyond their ttl, then their records
 *   stop counting (offline/leave events), except for users who meanwhile reconnected elsewhere:
 *   they are counted there and simply stay online, without a flap. Regions that hear each other
 *   go on exchanging changes as usual.
 * - When X is back, the watch of its bucket resumes and replays what it missed; X's nodes beat
 *   and re-send their whole state after their reconnect, and the views converge within about one
 *   RTT plus a beat.
 *
 * Bucket max age (`keyTtlMs`, default 1 h) collects tombstones and delete markers; nodes rewrite
 * records older than a third of it, and views forget records nobody rewrote for that long, as the
 * bucket does (its expiry is not announced to watchers).
 */
import { randomBytes } from 'node:crypto';
import type { Bus, BusStatus, KvEntry } from '../bus/types.js';
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import { ChangeFanout } from './events.js';
import { BucketFeed } from './feed.js';
import { decodeNode, decodeRecord, encodeNode, encodeRecord, encodeTombstone, keys, nodeId, parseKey } from './keys.js';
import type { ParsedKey } from './keys.js';
import { LocalState, desired } from './local.js';
import type { LocalKey } from './local.js';
import { RemoteRegions } from './regions.js';
import type { Presence, PresenceChange, PresenceOptions, PresenceState, RoomPresence } from './types.js';
import { assertId, assertRegions, assertSession, resolveOptions, roomLimit } from './validate.js';
import type { ResolvedOptions } from './validate.js';
import { PresenceView } from './view.js';
import { WriteBehind } from './writer.js';

export interface KvPresenceOptions extends PresenceOptions {
  /** This node's id, unique within its region. */
  node: string;
  /**
   * Every region of the deployment, this node's own (`bus.region`) included: the regions whose
   * presence buckets the node watches.
   */
  regions: readonly string[];
  /** Max age of the buckets' entries (see module header). Default 1 h; 0 keeps them forever. */
  keyTtlMs?: number;
  /** Background failures (bucket unreachable, a throwing watch handler). Default: ignored. */
  onError?: (err: unknown) => void;
  /** How long `createPresence` waits for the buckets before resolving anyway. Default 5000 ms. */
  startTimeoutMs?: number;
}

const MAX_IN_FLIGHT = 256;
const MAX_GC_IN_FLIGHT = 32;
const RETRY_MIN_MS = 100;
const CLOSE_TIMEOUT_MS = 2000;

const closedError = (): MeridianError => new MeridianError(ErrorCode.PresenceClosed, 'presence is closed');

export class KvPresence implements Presence {
  readonly region: string;
  readonly node: string;
  private readonly o: ResolvedOptions;
  private readonly selfId: string;
  private readonly epoch = randomBytes(9).toString('base64url');
  private readonly view: PresenceView;
  private readonly local: LocalState;
  private readonly writer: WriteBehind;
  private readonly changes = new ChangeFanout((err) => this.report(err));
  private readonly refreshMs: number;
  private readonly retryMaxMs: number;
  /** This node's own region's bucket: the one it writes. */
  private readonly own: BucketFeed;
  private readonly remote: RemoteRegions;
  private statusIt: AsyncIterator<BusStatus> | undefined;
  private closed = false;
  /** The bus closed underneath us: nothing more can be written or read from any bucket. */
  private dead = false;
  private outage = true;
  private recovering = false;
  private retryMs = RETRY_MIN_MS;
  private beatNo = 0;
  private beatInFlight = false;
  private beatAgain = false;
  /** First beat whose echo proves the current watch has delivered its snapshot. */
  private barrierBeat = 0;
  private barrierDone = false;
  private barrierWaiters: Array<() => void> = [];
  private lastEcho = 0;
  /** Expiry came due while this view could not hear its own bucket: run it when our echo is back. */
  private expiryPostponed = false;
  /** Until then another process seems to use our node id (see `ownEntry`). */
  private conflictUntil = 0;
  private gcInFlight = 0;
  private lastRepublish = Date.now();
  private lastForget = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = Infinity;
  private refreshTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly bus: Bus,
    private readonly opts: KvPresenceOptions,
  ) {
    this.o = resolveOptions(opts);
    this.region = bus.region;
    this.node = opts.node;
    this.selfId = nodeId(this.region, this.node);
    this.refreshMs = Math.max(10, Math.floor(this.o.ttlMs / 3));
    // Retries at least twice a beat, so a node is back soon after the bucket (see ownEntry).
    this.retryMaxMs = Math.max(RETRY_MIN_MS, Math.min(2000, this.refreshMs / 2));
    this.view = new PresenceView({ selfId: this.selfId, region: this.region, node: this.node, epoch: this.epoch, ttlMs: this.o.ttlMs, emit: (c) => this.changes.push(c) });
    this.local = new LocalState({
      graceMs: this.o.graceMs,
      keyOf: (kind, user, room) => (kind === 'u' ? keys.user(user, this.selfId) : keys.room(room!, user, this.selfId)),
      changed: (k) => this.localChanged(k),
    });
    this.writer = new WriteBehind({
      flushDelayMs: this.o.flushDelayMs,
      maxInFlight: MAX_IN_FLIGHT,
      write: (k, sessions) => this.writeKey(k, sessions),
      failed: (err) => this.enterOutage(err),
      settled: (k) => this.local.forgetIfIdle(k),
    });
    const feed = { keyTtlMs: this.o.keyTtlMs, retryMinMs: RETRY_MIN_MS, retryMaxMs: this.retryMaxMs };
    this.own = new BucketFeed(bus, { ...feed, region: this.region, selfHealing: false }, {
      started: () => this.watchStarted(),
      entry: (_, e) => this.onEntry(e),
      // The watch ended under us (bus closed, or it failed): recovery starts a new one.
      ended: () => this.enterOutage(new MeridianError(ErrorCode.BusUnavailable, 'the presence watch ended')),
      closed: () => this.busClosed(),
      error: (err) => this.report(err),
    });
    this.remote = new RemoteRegions({
      ...feed,
      bus,
      regions: opts.regions.filter((r) => r !== this.region),
      view: this.view,
      refreshMs: this.refreshMs,
      graceMs: this.o.graceMs,
      rearm: () => this.armExpiry(),
      closed: () => this.busClosed(),
      report: (err) => this.report(err),
    });
  }

  /**
   * Validate, start, and wait (at most `startTimeoutMs`) until the view holds its own region's
   * bucket and every other region's bucket was tried once (those that are down are followed as
   * soon as they answer).
   */
  static async start(bus: Bus, opts: KvPresenceOptions): Promise<KvPresence> {
    assertId('node', opts.node);
    assertRegions(opts.regions, bus.region);
    const p = new KvPresence(bus, opts);
    const remote = p.remote.start();
    try {
      await p.open();
    } catch (err) {
      // Only a bucket that cannot exist is fatal; an unreachable one is retried in the background.
      if (!isTransient(err)) {
        await p.close();
        throw err;
      }
      p.enterOutage(err);
    }
    p.refreshTimer = setInterval(() => p.tick(), p.refreshMs);
    p.refreshTimer.unref();
    void p.followStatus();
    const timeoutMs = opts.startTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.all([remote, p.waitBarrier(timeoutMs)]), timeout]);
    clearTimeout(timer);
    return p;
  }

  // ---- the contract ------------------------------------------------------------------------

  connect(user: string, session: string): void {
    this.assertOpen();
    assertId('user', user);
    assertSession(session);
    this.local.connect(user, session);
  }

  disconnect(user: string, session: string): void {
    // After close there is nothing left to withdraw: a no-op, so shutdown paths cannot trip.
    if (this.closed) return;
    assertId('user', user);
    assertSession(session);
    this.local.disconnect(user, session);
  }

  join(room: string, user: string, session: string): void {
    this.assertOpen();
    assertId('room', room);
    assertId('user', user);
    assertSession(session);
    this.local.join(room, user, session);
  }

  leave(room: string, user: string, session: string): void {
    if (this.closed) return;
    assertId('room', room);
    assertId('user', user);
    assertSession(session);
    this.local.leave(room, user, session);
  }

  user(user: string): Promise<PresenceState> {
    try {
      this.assertOpen();
      assertId('user', user);
      return Promise.resolve(this.view.user(user));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  room(room: string, opts: { limit?: number } = {}): Promise<RoomPresence> {
    try {
      this.assertOpen();
      assertId('room', room);
      return Promise.resolve(this.view.room(room, roomLimit(opts.limit)));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  watch(handler: (change: PresenceChange) => void): () => void {
    this.assertOpen();
    if (typeof handler !== 'function') {
      throw new MeridianError(ErrorCode.PresenceInvalid, 'watch needs a handler function', { details: { field: 'handler' } });
    }
    return this.changes.add(handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.local.stop();
    this.writer.stop();
    clearInterval(this.refreshTimer);
    clearTimeout(this.expiryTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.own.stop();
    this.remote.stop();
    void this.statusIt?.return?.();
    this.changes.close();
    await this.withdraw();
  }

  /**
   * Counters of the view and writer, for tests and diagnostics. `stale`: this view does not hear
   * its own bucket (frozen); `unheard`: other regions whose bucket it has not heard lately (no
   * live node there, or the region is down or cut off).
   */
  stats(): ReturnType<PresenceView['stats']> & { localKeys: number; pendingWrites: number; outage: boolean; stale: boolean; unheard: string[] } {
    const now = Date.now();
    return { ...this.view.stats(), localKeys: this.local.keys.size, pendingWrites: this.writer.pending, outage: this.outage, stale: !this.inTouch(now), unheard: this.remote.unheard(now) };
  }

  /** Resolves when every local change so far has been written (or writing is paused). */
  flushed(): Promise<void> {
    return this.writer.idle();
  }

  // ---- local changes -----------------------------------------------------------------------

  private localChanged(k: LocalKey): void {
    const ref = { kind: k.kind, user: k.user, room: k.room, region: this.region, node: this.node, nodeId: this.selfId };
    this.view.ownRecord(k.key, ref, desired(k));
    this.writer.mark(k);
  }

  private writeKey(k: LocalKey, sessions: number | null): Promise<number | undefined> {
    const kv = this.own.kv;
    if (!kv) return Promise.reject(new MeridianError(ErrorCode.BusUnavailable, 'the presence bucket is not open yet'));
    if (sessions === null) return kv.delete(k.key).then(() => undefined);
    return kv.put(k.key, encodeRecord({ epoch: this.epoch, sessions }));
  }

  // ---- the own bucket ----------------------------------------------------------------------

  /** Open the own bucket, start its watch, beat once: the bucket answers again. */
  private async open(): Promise<void> {
    await this.own.open();
    if (this.closed) return;
    await this.beat();
    this.leaveOutage();
  }

  private watchStarted(): void {
    this.view.nextGeneration(this.region);
    this.barrierDone = false;
    // The first beat written from now on comes back after the snapshot (revision order).
    this.barrierBeat = this.beatNo + 1;
  }

  /** An entry of the own bucket (other regions' entries go to regions.ts). */
  private onEntry(e: KvEntry): void {
    if (this.closed) return;
    const p = parseKey(e.key);
    if (!p || p.region !== this.region) return;
    if (p.nodeId === this.selfId) {
      this.ownEntry(e, p);
      return;
    }
    // Entries of the starting snapshot are aged by the bucket's clock, later ones are news.
    const ageMs = this.barrierDone ? 0 : Math.max(0, Date.now() - e.created);
    if (p.kind === 'n') {
      this.view.nodeChanged(p, e.operation === 'PUT' ? decodeNode(e.value) : undefined, e.revision, ageMs);
      this.armExpiry();
    } else {
      this.view.recordChanged(e.key, p, e.operation === 'PUT' ? decodeRecord(e.value) : undefined, e.revision, ageMs);
    }
  }

  /** Our own key came back through the watch: an echo, or someone else's change to correct. */
  private ownEntry(e: KvEntry, p: ParsedKey): void {
    if (p.kind === 'n') {
      const v = e.operation === 'PUT' ? decodeNode(e.value) : undefined;
      if (v?.epoch === this.epoch) {
        const now = Date.now();
        // A ttl runs only while this view hears the bucket: a late echo (we were cut off, or
        // the bucket was down for everyone) stops every clock for the time beyond one beat;
        // after a real outage, for all of it, so nodes that were waiting to retry their own
        // beat get two beats to show up before they are judged.
        if (this.lastEcho > 0) {
          const gap = now - this.lastEcho;
          this.view.pauseClocks(gap > 1.5 * this.refreshMs ? gap : gap - this.refreshMs, now);
        }
        this.lastEcho = now;
        // What the watch missed came before this echo (revision order): nodes that beat
        // meanwhile are fresh again, and whoever is still overdue is really dead.
        if (this.expiryPostponed) {
          this.expiryPostponed = false;
          this.armExpiry();
        }
        if (!this.barrierDone && v.beat >= this.barrierBeat) this.reachBarrier();
      } else if (v && this.barrierDone) {
        // (Before the barrier it is the liveness key of an earlier run, which our beat replaces.)
        // Two processes with one node id would correct each other's records forever: stop that.
        this.conflictUntil = Date.now() + this.o.ttlMs;
        this.report(new MeridianError(ErrorCode.PresenceInvalid, `another process reports as node ${this.node} in ${this.region}: node ids must be unique per region`, { details: { node: this.node, region: this.region } }));
      } else if (!this.closed && !this.outage) {
        // Collected or deleted by someone who took us for dead: everything may be gone.
        this.resendAll();
      }
      return;
    }
    const k = this.local.keys.get(e.key);
    if (k?.inFlight || (k && e.revision <= k.writtenRevision)) return;
    const want = k ? desired(k) : null;
    const rec = e.operation === 'PUT' ? decodeRecord(e.value) : undefined;
    if (rec ? rec.epoch === this.epoch && rec.sessions === want : want === null) return;
    if (Date.now() < this.conflictUntil) return;
    if (k && want !== null) {
      this.writer.mark(k, true);
    } else if (rec) {
      // A record we do not report: left by an earlier run of this node, or an echo overtaken by
      // later changes. Removed only if it still is what we saw.
      this.collect([{ key: e.key, revision: e.revision }]);
    }
  }

  private reachBarrier(): void {
    this.barrierDone = true;
    this.view.dropUnconfirmed(this.region);
    const waiters = this.barrierWaiters;
    this.barrierWaiters = [];
    for (const w of waiters) w();
    this.armExpiry();
  }

  private waitBarrier(timeoutMs: number): Promise<void> {
    if (this.barrierDone || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref();
      this.barrierWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Write the liveness key (one in flight; a beat asked for meanwhile follows it). */
  private async beat(): Promise<void> {
    const kv = this.own.kv;
    if (!kv || this.closed) return;
    if (this.beatInFlight) {
      this.beatAgain = true;
      return;
    }
    this.beatInFlight = true;
    try {
      await kv.put(keys.node(this.selfId), encodeNode({ epoch: this.epoch, beat: ++this.beatNo, at: Date.now() }));
    } finally {
      this.beatInFlight = false;
    }
    if (this.beatAgain && !this.closed) {
      this.beatAgain = false;
      await this.beat();
    }
  }

  private resendAll(): void {
    this.beat().catch((err: unknown) => this.enterOutage(err));
    for (const k of this.local.reporting()) this.writer.mark(k, true);
  }

  // ---- outages -----------------------------------------------------------------------------

  private enterOutage(err: unknown): void {
    if (this.closed) return;
    if (isMeridianError(err, ErrorCode.BusClosed)) {
      this.busClosed();
      return;
    }
    if (!this.outage) {
      this.outage = true;
      this.report(err);
    }
    this.writer.pause();
    this.scheduleRecover();
  }

  private busClosed(): void {
    this.dead = true;
    this.writer.pause();
  }

  private leaveOutage(): void {
    if (!this.outage || this.closed) return;
    this.outage = false;
    this.retryMs = RETRY_MIN_MS;
    // Writes failed, and our keys may have been collected while we were away: send everything.
    for (const k of this.local.reporting()) this.writer.mark(k, true);
    this.writer.resume();
  }

  private scheduleRecover(): void {
    if (this.recovering || this.closed || this.dead) return;
    this.recovering = true;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.retryMaxMs);
    this.later(delay, () => {
      this.open().then(
        () => {
          this.recovering = false;
          if (this.outage && !this.closed) this.scheduleRecover();
        },
        (err: unknown) => {
          this.recovering = false;
          if (isMeridianError(err, ErrorCode.BusClosed)) this.dead = true;
          else this.scheduleRecover();
        },
      );
    });
  }

  private async followStatus(): Promise<void> {
    let it: AsyncIterator<BusStatus>;
    try {
      it = this.bus.status()[Symbol.asyncIterator]();
    } catch {
      return; // the bus is closed already
    }
    this.statusIt = it;
    for (;;) {
      const r = await it.next();
      if (r.done || this.closed) return;
      const s = r.value;
      if (s.type === 'reconnected' && !this.outage) this.resendAll();
      if (s.type === 'closed') this.dead = true;
    }
  }

  // ---- timers: beat, expiry, collection ----------------------------------------------------

  private tick(): void {
    if (this.closed || this.dead) return;
    const now = Date.now();
    if (!this.outage) this.beat().catch((err: unknown) => this.enterOutage(err));
    if (this.o.keyTtlMs > 0) {
      if (now - this.lastRepublish > this.o.keyTtlMs / 12) {
        this.lastRepublish = now;
        const before = now - this.o.keyTtlMs / 3;
        for (const k of this.local.reporting()) if (k.written !== null && k.writtenAt < before) this.writer.mark(k, true);
      }
      if (now - this.lastForget > this.o.keyTtlMs / 12) {
        this.lastForget = now;
        this.view.expireOld(now, this.o.keyTtlMs);
      }
    }
    if (!this.outage && this.inTouch(now)) {
      const delay = this.view.isCollector() ? this.o.ttlMs : 3 * this.o.ttlMs;
      const room = MAX_GC_IN_FLIGHT - this.gcInFlight;
      if (room > 0) this.collect(this.view.garbage(now, delay, room, this.region));
    }
  }

  /**
   * Does this view still hear its own bucket? Our own beat comes back every ttl/3; when it is
   * overdue, this view is cut off and the silence of others proves nothing. A node that died
   * beat at most ttl/3 before, so its ttl ends at least 2/3 ttl after; by then a view that lost
   * the bucket at the same moment is 1/2 ttl past its last echo and knows it.
   */
  private inTouch(now: number): boolean {
    return this.lastEcho > 0 && now - this.lastEcho <= 1.5 * this.refreshMs;
  }

  private armExpiry(): void {
    const now = Date.now();
    if (!this.inTouch(now)) {
      this.expiryPostponed = true;
      return;
    }
    const next = this.view.expire(now, (s, t) => this.remote.extraMs(s, t));
    if (next === undefined || next >= this.expiryAt) return;
    clearTimeout(this.expiryTimer);
    this.expiryAt = next;
    this.expiryTimer = setTimeout(() => this.runExpiry(), Math.max(0, next - Date.now()) + 1);
    this.expiryTimer.unref();
  }

  private runExpiry(): void {
    this.expiryTimer = undefined;
    this.expiryAt = Infinity;
    if (this.closed) return;
    this.armExpiry();
  }

  /** Tombstone keys of the own bucket (the only one this node writes). */
  private collect(garbage: ReadonlyArray<{ key: string; revision: number }>): void {
    const kv = this.own.kv;
    if (!kv) return;
    const tomb = encodeTombstone(`${this.region}/${this.node}`);
    for (const g of garbage) {
      this.gcInFlight++;
      kv.update(g.key, tomb, g.revision)
        .catch((err: unknown) => {
          // Someone rewrote or collected it first: exactly the race this CAS is for.
          if (!isMeridianError(err, ErrorCode.KvWrongRevision)) this.report(err);
        })
        .finally(() => {
          this.gcInFlight--;
        });
    }
  }

  // ---- close -------------------------------------------------------------------------------

  /**
   * Best effort, bounded: the liveness key first (every view drops this node's records the
   * moment it sees that), then the records, which otherwise wait for collection.
   */
  private async withdraw(): Promise<void> {
    const kv = this.own.kv;
    if (!kv || this.dead) return;
    const work = (async () => {
      await kv.delete(keys.node(this.selfId));
      // A write still in flight would land after our delete and leave a record to collect.
      await this.writer.settled();
      const all = [...this.local.keys.values()].filter((k) => k.written !== null);
      for (let i = 0; i < all.length; i += MAX_IN_FLIGHT) {
        await Promise.all(all.slice(i, i + MAX_IN_FLIGHT).map((k) => kv.delete(k.key)));
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    });
    try {
      await Promise.race([work.catch((err: unknown) => this.report(err)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }

  private report(err: unknown): void {
    if (this.closed) return;
    try {
      this.opts.onError?.(err);
    } catch {
      // a throwing error reporter must not break presence
    }
  }
}

/** Errors after which the bucket may answer again later. */
function isTransient(err: unknown): boolean {
  return isMeridianError(err, ErrorCode.BusUnavailable) || isMeridianError(err, ErrorCode.BusTimeout) || isMeridianError(err, ErrorCode.BusNoResponders);
}
