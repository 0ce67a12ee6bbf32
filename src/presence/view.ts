/**
 * One region node's converged view of everybody's presence, fed by the watches of every region's
 * presence bucket (remote nodes) and directly by the local state (this node), so reads never
 * leave the process.
 *
 * The view holds every record it has seen (`u.` and `r.` keys) and every node's liveness. A
 * record *counts* while its node is live in this view and carries the node's current epoch; the
 * aggregates (per user: counted records and sessions; per room member: counted records) change
 * only when a record starts or stops counting, and the 0 ↔ 1 crossings of those counts are the
 * `online`/`offline` and `join`/`leave` events. So a user seen on three nodes in two regions goes
 * offline once, when the last of them stops counting, whichever way it stops (grace over, node
 * dead, node withdrawn, its region silent for too long).
 *
 * Liveness is judged on this view's clock: a node is live until `ttlMs` after this view last saw
 * its liveness key change, plus whatever extra time the owner grants a node whose region's bucket
 * it cannot hear (`expire`). Only entries of a watch's starting snapshot are aged by the bucket's
 * timestamp (`created`), so a view that starts after a node died does not take it for fresh.
 * Each region's bucket has its own watch, so watch generations (`nextGeneration`,
 * `dropUnconfirmed`) and collection (`garbage`, `isCollector`) are per region.
 */
import type { NodeValue, RecordValue } from './keys.js';
import { keys } from './keys.js';
import type { PresenceChange, PresenceState, RoomPresence } from './types.js';

export interface NodeSlot {
  readonly id: string;
  readonly region: string;
  readonly node: string;
  readonly self: boolean;
  /** Epoch of the liveness value the bucket holds; undefined once deleted or tombstoned. */
  epoch: string | undefined;
  revision: number;
  /** When this view last saw the liveness key change (possibly back-dated, see header). */
  seenAt: number;
  live: boolean;
  /** When the node stopped being live in this view (garbage collection waits from there). */
  downSince: number | undefined;
  gcAt: number | undefined;
  /** Watch generation that last confirmed this slot (see `dropUnconfirmed`). */
  gen: number;
  readonly recs: Set<Rec>;
}

export interface Rec {
  readonly key: string;
  readonly kind: 'u' | 'r';
  readonly user: string;
  readonly room: string | undefined;
  readonly node: NodeSlot;
  epoch: string;
  sessions: number;
  revision: number;
  seenAt: number;
  counted: boolean;
  uncountedSince: number | undefined;
  gcAt: number | undefined;
  gen: number;
}

export interface RecordRef {
  readonly kind: 'u' | 'r';
  readonly user: string;
  readonly room?: string;
  readonly region: string;
  readonly node: string;
  readonly nodeId: string;
}

export interface Garbage {
  readonly key: string;
  readonly revision: number;
}

/**
 * A user's (or room member's) records: one as is — nearly everyone is on one node — and a Set
 * only from the second, since a Set per online user cost ~130 bytes per idle connection.
 */
type Recs = Rec | Set<Rec> | undefined;

interface UserAgg {
  recs: Recs;
  counted: number;
  sessions: number;
}

interface MemberAgg {
  recs: Recs;
  counted: number;
}

function addRec(a: UserAgg | MemberAgg, r: Rec): void {
  const cur = a.recs;
  if (cur === undefined) a.recs = r;
  else if (cur instanceof Set) cur.add(r);
  else if (cur !== r) a.recs = new Set([cur, r]);
}

function deleteRec(a: UserAgg | MemberAgg, r: Rec): void {
  const cur = a.recs;
  if (cur === r) a.recs = undefined;
  else if (cur instanceof Set) {
    cur.delete(r);
    if (cur.size === 1) a.recs = cur.values().next().value!;
    else if (cur.size === 0) a.recs = undefined;
  }
}

function recsOf(a: UserAgg | MemberAgg): Iterable<Rec> {
  const cur = a.recs;
  return cur === undefined ? [] : cur instanceof Set ? cur : [cur];
}

export interface ViewOptions {
  readonly selfId: string;
  readonly region: string;
  readonly node: string;
  readonly epoch: string;
  readonly ttlMs: number;
  readonly emit: (change: PresenceChange) => void;
}

/** Offline users whose `lastSeenAt` is remembered; the oldest are forgotten beyond this. */
const MAX_LAST_SEEN = 100_000;

export class PresenceView {
  private readonly nodes = new Map<string, NodeSlot>();
  private readonly recs = new Map<string, Rec>();
  private readonly users = new Map<string, UserAgg>();
  private readonly rooms = new Map<string, Map<string, MemberAgg>>();
  /** Remote records that do not count: the candidates for garbage collection. */
  private readonly uncounted = new Set<Rec>();
  private readonly lastSeen = new Map<string, number>();
  /** Sorted member lists, dropped when membership changes: big rooms are sorted once, not per read. */
  private readonly sorted = new Map<string, string[]>();
  private readonly self: NodeSlot;
  private ownRevision = 0;
  /** Generation of the watch of each region's bucket; bumped when a new watch starts. */
  private readonly gens = new Map<string, number>();

  constructor(private readonly o: ViewOptions) {
    this.self = this.slot(o.selfId, o.region, o.node, true);
    this.self.epoch = o.epoch;
    this.self.live = true;
  }

  // ---- changes ---------------------------------------------------------------------------

  /** A remote node's liveness key changed: a value (`ageMs` old), or removed when undefined. */
  nodeChanged(ref: { nodeId: string; region: string; node: string }, value: NodeValue | undefined, revision: number, ageMs: number): void {
    let s = this.nodes.get(ref.nodeId);
    if (s && revision <= s.revision) {
      s.gen = this.genOf(s.region);
      return;
    }
    if (!s) {
      if (!value) return;
      s = this.slot(ref.nodeId, ref.region, ref.node, false);
    }
    s.revision = revision;
    s.gen = this.genOf(s.region);
    const now = Date.now();
    if (value) {
      const epochChanged = s.epoch !== value.epoch;
      s.epoch = value.epoch;
      s.seenAt = now - ageMs;
      s.gcAt = undefined;
      this.setLive(s, now - s.seenAt <= this.o.ttlMs, epochChanged);
    } else {
      s.epoch = undefined;
      this.setLive(s, false, false);
      this.dropIfEmpty(s);
    }
  }

  /** A remote record changed: a value, or removed (delete, tombstone) when undefined. */
  recordChanged(key: string, ref: RecordRef, value: RecordValue | undefined, revision: number, ageMs: number): void {
    const r = this.recs.get(key);
    if (r && revision <= r.revision) {
      r.gen = this.genOf(ref.region);
      return;
    }
    if (!value) {
      if (r) this.remove(r);
      return;
    }
    this.upsert(key, r, ref, value, revision, Date.now() - ageMs);
  }

  /** This node's own record, straight from the local state; null removes it. */
  ownRecord(key: string, ref: RecordRef, sessions: number | null): void {
    const r = this.recs.get(key);
    if (sessions === null) {
      if (r) this.remove(r);
      return;
    }
    this.upsert(key, r, ref, { epoch: this.o.epoch, sessions }, ++this.ownRevision, Date.now());
  }

  /**
   * Remote nodes silent for longer than the ttl stop being live, unless `extraMs` grants an
   * overdue node more time (asked only once its ttl is over: the owner extends the nodes of a
   * region whose bucket it cannot hear). Returns the next deadline.
   */
  expire(now: number, extraMs: (s: NodeSlot, now: number) => number = () => 0): number | undefined {
    let next: number | undefined;
    for (const s of this.nodes.values()) {
      if (s.self || !s.live) continue;
      let deadline = s.seenAt + this.o.ttlMs;
      if (deadline <= now) deadline += extraMs(s, now);
      if (deadline <= now) this.setLive(s, false, false);
      else if (next === undefined || deadline < next) next = deadline;
    }
    return next;
  }

  /**
   * This view could not hear the bucket for `ms` (its own beat came back late): nobody could be
   * seen beating meanwhile, so that time does not count against anyone's ttl. Never beyond
   * `now`, so a node just heard through the watch's replay keeps an ordinary ttl.
   */
  pauseClocks(ms: number, now: number): void {
    if (ms <= 0) return;
    for (const s of this.nodes.values()) if (!s.self && s.live) s.seenAt = Math.min(s.seenAt + ms, Math.max(s.seenAt, now));
  }

  /** The generation of the watch of `region`'s bucket. */
  genOf(region: string): number {
    return this.gens.get(region) ?? 1;
  }

  /** Start a new watch generation for `region` (a restarted watch replays its bucket's state). */
  nextGeneration(region: string): void {
    this.gens.set(region, this.genOf(region) + 1);
  }

  /**
   * The current generation's snapshot of `region`'s bucket is complete: whatever of that region
   * it did not confirm was removed from the bucket while the previous watch was not looking.
   */
  dropUnconfirmed(region: string): void {
    const gen = this.genOf(region);
    for (const r of [...this.recs.values()]) if (r.node !== this.self && r.node.region === region && r.gen < gen) this.remove(r);
    for (const s of [...this.nodes.values()]) {
      if (s.self || s.region !== region || s.gen >= gen || s.epoch === undefined) continue;
      s.epoch = undefined;
      this.setLive(s, false, false);
      this.dropIfEmpty(s);
    }
  }

  /** Mirror the bucket's max age: what nobody rewrote for `maxAgeMs` is gone from the bucket. */
  expireOld(now: number, maxAgeMs: number): void {
    for (const r of [...this.recs.values()]) if (r.node !== this.self && now - r.seenAt > maxAgeMs) this.remove(r);
    for (const s of [...this.nodes.values()]) {
      if (s.self || s.epoch === undefined || now - s.seenAt <= maxAgeMs) continue;
      s.epoch = undefined;
      this.setLive(s, false, false);
      this.dropIfEmpty(s);
    }
  }

  /**
   * Keys of `region`'s bucket to tombstone: records that have not counted for `delayMs` (dead
   * node, old epoch, node never seen) and liveness keys of nodes dead for `delayMs`. Each is
   * offered once per `delayMs`. Only the owner's own region is ever asked for: a node writes no
   * other region's bucket.
   */
  garbage(now: number, delayMs: number, max: number, region: string): Garbage[] {
    const out: Garbage[] = [];
    for (const s of this.nodes.values()) {
      if (out.length >= max) return out;
      if (s.self || s.region !== region || s.live || s.epoch === undefined || s.downSince === undefined) continue;
      if (now - s.downSince < delayMs || (s.gcAt !== undefined && now - s.gcAt < delayMs)) continue;
      s.gcAt = now;
      out.push({ key: keys.node(s.id), revision: s.revision });
    }
    for (const r of this.uncounted) {
      if (out.length >= max) break;
      if (r.node.region !== region || r.uncountedSince === undefined || now - r.uncountedSince < delayMs) continue;
      if (r.gcAt !== undefined && now - r.gcAt < delayMs) continue;
      r.gcAt = now;
      out.push({ key: r.key, revision: r.revision });
    }
    return out;
  }

  /** True when this node has the smallest id among the live nodes of its region: the first collector there. */
  isCollector(): boolean {
    for (const s of this.nodes.values()) if (s.live && s.region === this.self.region && s.id < this.self.id) return false;
    return true;
  }

  // ---- reads -----------------------------------------------------------------------------

  user(user: string): PresenceState {
    const agg = this.users.get(user);
    if (agg && agg.counted > 0) {
      const regions = new Set<string>();
      for (const r of recsOf(agg)) if (r.counted) regions.add(r.node.region);
      return { user, online: true, regions: [...regions].sort(), connections: agg.sessions };
    }
    const seen = this.lastSeen.get(user);
    return seen === undefined ? { user, online: false, regions: [], connections: 0 } : { user, online: false, regions: [], connections: 0, lastSeenAt: seen };
  }

  room(room: string, limit: number): RoomPresence {
    let members = this.sorted.get(room);
    if (!members) {
      members = [];
      for (const [user, m] of this.rooms.get(room) ?? []) if (m.counted > 0) members.push(user);
      members.sort();
      if (members.length > 0) this.sorted.set(room, members);
    }
    return { room, members: members.slice(0, limit).map((u) => this.user(u)), truncated: members.length > limit };
  }

  stats(): { nodes: number; liveNodes: number; records: number; uncounted: number; users: number; rooms: number } {
    let liveNodes = 0;
    for (const s of this.nodes.values()) if (s.live) liveNodes++;
    return { nodes: this.nodes.size, liveNodes, records: this.recs.size, uncounted: this.uncounted.size, users: this.users.size, rooms: this.rooms.size };
  }

  // ---- internals -------------------------------------------------------------------------

  private slot(id: string, region: string, node: string, self: boolean): NodeSlot {
    const s: NodeSlot = { id, region, node, self, epoch: undefined, revision: 0, seenAt: 0, live: false, downSince: Date.now(), gcAt: undefined, gen: this.genOf(region), recs: new Set() };
    this.nodes.set(id, s);
    return s;
  }

  private setLive(s: NodeSlot, live: boolean, epochChanged: boolean): void {
    const was = s.live;
    s.live = live;
    if (live) s.downSince = undefined;
    else if (was || s.downSince === undefined) s.downSince = Date.now();
    // A beat of a node already live with the same epoch changes nothing: no walk of its records.
    if (was === live && !epochChanged) return;
    for (const r of s.recs) this.recount(r);
  }

  private dropIfEmpty(s: NodeSlot): void {
    if (!s.self && s.recs.size === 0 && s.epoch === undefined) this.nodes.delete(s.id);
  }

  private upsert(key: string, r: Rec | undefined, ref: RecordRef, value: RecordValue, revision: number, seenAt: number): void {
    if (!r) {
      const node = this.nodes.get(ref.nodeId) ?? this.slot(ref.nodeId, ref.region, ref.node, false);
      r = {
        key,
        kind: ref.kind,
        user: ref.user,
        room: ref.kind === 'r' ? ref.room : undefined,
        node,
        epoch: value.epoch,
        sessions: value.sessions,
        revision,
        seenAt,
        counted: false,
        uncountedSince: Date.now(),
        gcAt: undefined,
        gen: this.genOf(node.region),
      };
      this.recs.set(key, r);
      node.recs.add(r);
      addRec(this.agg(r, true)!, r);
      if (node !== this.self) this.uncounted.add(r);
      this.recount(r);
      return;
    }
    r.revision = revision;
    r.seenAt = seenAt;
    r.gen = this.genOf(r.node.region);
    r.gcAt = undefined;
    if (r.counted && r.kind === 'u') (this.agg(r, false) as UserAgg).sessions += value.sessions - r.sessions;
    r.sessions = value.sessions;
    if (r.epoch !== value.epoch) {
      r.epoch = value.epoch;
      this.recount(r);
    }
  }

  private remove(r: Rec): void {
    if (r.counted) this.uncount(r);
    this.recs.delete(r.key);
    this.uncounted.delete(r);
    r.node.recs.delete(r);
    const agg = this.agg(r, false);
    if (agg) deleteRec(agg, r);
    if (agg && agg.recs === undefined) {
      if (r.kind === 'u') this.users.delete(r.user);
      else {
        const members = this.rooms.get(r.room!);
        members?.delete(r.user);
        if (members?.size === 0) this.rooms.delete(r.room!);
      }
    }
    this.dropIfEmpty(r.node);
  }

  private recount(r: Rec): void {
    const should = r.node.live && r.node.epoch === r.epoch;
    if (should && !r.counted) this.count(r);
    else if (!should && r.counted) this.uncount(r);
  }

  private count(r: Rec): void {
    r.counted = true;
    r.uncountedSince = undefined;
    this.uncounted.delete(r);
    const agg = this.agg(r, false)!;
    agg.counted++;
    if (r.kind === 'u') (agg as UserAgg).sessions += r.sessions;
    if (agg.counted !== 1) return;
    if (r.kind === 'r') this.sorted.delete(r.room!);
    if (r.kind === 'u') {
      this.lastSeen.delete(r.user);
      this.o.emit({ kind: 'online', user: r.user, region: r.node.region, timestamp: Date.now() });
    } else {
      this.o.emit({ kind: 'join', user: r.user, room: r.room!, region: r.node.region, timestamp: Date.now() });
    }
  }

  private uncount(r: Rec): void {
    r.counted = false;
    r.uncountedSince = Date.now();
    if (r.node !== this.self) this.uncounted.add(r);
    const agg = this.agg(r, false)!;
    agg.counted--;
    if (r.kind === 'u') (agg as UserAgg).sessions -= r.sessions;
    if (agg.counted !== 0) return;
    if (r.kind === 'r') this.sorted.delete(r.room!);
    const now = Date.now();
    if (r.kind === 'u') {
      this.rememberSeen(r.user, now);
      this.o.emit({ kind: 'offline', user: r.user, region: r.node.region, timestamp: now });
    } else {
      this.o.emit({ kind: 'leave', user: r.user, room: r.room!, region: r.node.region, timestamp: now });
    }
  }

  private agg(r: Rec, create: boolean): UserAgg | MemberAgg | undefined {
    if (r.kind === 'u') {
      let a = this.users.get(r.user);
      if (!a && create) this.users.set(r.user, (a = { recs: undefined, counted: 0, sessions: 0 }));
      return a;
    }
    let members = this.rooms.get(r.room!);
    if (!members) {
      if (!create) return undefined;
      this.rooms.set(r.room!, (members = new Map<string, MemberAgg>()));
    }
    let m = members.get(r.user);
    if (!m && create) members.set(r.user, (m = { recs: undefined, counted: 0 }));
    return m;
  }

  private rememberSeen(user: string, at: number): void {
    this.lastSeen.delete(user);
    this.lastSeen.set(user, at);
    if (this.lastSeen.size > MAX_LAST_SEEN) {
      const oldest = this.lastSeen.keys().next();
      if (!oldest.done) this.lastSeen.delete(oldest.value);
    }
  }
}
