/**
 * Home failover with fencing: when a conversation's home region is lost, its replica region
 * takes over under a new epoch and continues the sequence from the copy it holds; never two
 * writers for one conversation's sequence.
 *
 * The unit is a pair (home H, replica R): R takes over the conversations homed in H whose first
 * replica is R (src/placement `chainOf`). Epoch 1: H writes. Epoch 2: R writes (this version
 * fails over once; a returning H stays fenced for the pair, see "Old home" below).
 *
 * Agreement without a consensus protocol of our own: each region has a fence bucket
 * (`placed.fence(region)`, held by that region's servers: NATS KV, compare-and-set) and a record
 * `f.<H>.<R>` is only ever created there, never changed. A region creates it only when it has
 * itself not heard H for `failoverAfterMs` (its own probes); R wins the pair when the record
 * exists in a majority of all regions' buckets (R's own included). Both sides of a partition
 * cannot each gather a majority, and H's own bucket is never needed.
 *
 * Fencing the old home first: H writes only under a lease, renewed every `probeMs` by reading its
 * pairs' records from a majority of the regions' buckets (its own included; read from those
 * regions' servers directly, so a lone node of a healthy cluster can write) and valid for
 * `leaseMs` from the start of the round that succeeded. Any record found fences that pair at
 * once. A winning R starts writing only `leaseMs` plus a margin after it won: by then H has
 * either seen the record (the majorities intersect) or lost its lease, whatever the message
 * delays (durations are measured on each side's monotonic clock). `failoverAfterMs` must exceed
 * `leaseMs` so a healthy home is never overtaken by a slow probe.
 *
 * Silence is counted in this process's running time (`#catchUp`): a stalled event loop could read
 * no answers, so the time it stalled is no evidence against the regions it did not hear.
 *
 * Old home: a region that finds itself fenced for a pair forwards those conversations to the new
 * owner and refuses copies and writes for them (`MSG_FENCED`, retryable). Entries it had acked as
 * `local` that never reached the replica stay in its own log only (see docs/architecture.md,
 * "Failure behaviour"): they are not merged under the new owner's seqs.
 */
import { subjects } from '../bus/subjects.js';
import type { Bus, BusMessage, Kv, KvWatch, Subscription } from '../bus/types.js';
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import { openKv, placed } from '../placement/mod.js';
import type { ConversationPlacement } from '../placement/mod.js';
import { kvToken } from '../bus/subjects.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const QUEUE = 'failover';
const STARTUP_GRACE_MS = 30_000;
/** The stall watch's period, and the lateness below which a timer is on time (see `#catchUp`). */
const BEAT_MS = 20;
const STALL_SLACK_MS = 10;

export interface FailoverOptions {
  readonly bus: Bus;
  readonly placement: ConversationPlacement;
  /** How long a home must be unheard by a region before it agrees to a takeover. Default 3000 ms. */
  readonly failoverAfterMs?: number;
  /**
   * How much longer than `failoverAfterMs` a region never heard since this one started must stay
   * silent before this region claims or grants its pairs. Regions of a deployment start one after
   * another (and a node restarts into a live deployment); without it a region starting a few
   * seconds after the others would have its homes taken over before it ever came up. Default 30 000 ms.
   */
  readonly startupGraceMs?: number;
  /** Background problems (a claim that failed, a bucket that cannot be opened yet). */
  readonly onError?: (err: unknown) => void;
  /** A pair changed hands (for logs and metrics). */
  readonly onTakeover?: (home: string, owner: string, role: 'won' | 'fenced' | 'learned') => void;
}

interface FenceRecord {
  readonly home: string;
  readonly owner: string;
  readonly epoch: number;
  readonly at: number;
}

type Request = { op: 'ping' } | { op: 'claim'; home: string; owner: string };

/** The current owner of a conversation and its epoch (1: the home). */
export interface Ownership {
  readonly owner: string;
  readonly epoch: number;
  /** The regions after the owner in the chain: where its copies go. */
  readonly next: readonly string[];
}

export class Failover {
  readonly region: string;
  readonly failoverAfterMs: number;
  readonly leaseMs: number;
  readonly probeMs: number;
  readonly #o: FailoverOptions;
  readonly #bus: Bus;
  readonly #regions: readonly string[];
  /** Records known here, by `home|owner`. */
  readonly #records = new Map<string, FenceRecord>();
  /** Pairs this region won, by `home|owner` → monotonic time it may start writing. */
  readonly #readyAt = new Map<string, number>();
  /** Last time each other region answered a probe (monotonic ms). */
  readonly #heard = new Map<string, number>();
  #startedAt = performance.now();
  /** When the stall watch last ran (monotonic ms); see `#catchUp`. */
  #lastBeat = performance.now();
  #beat: NodeJS.Timeout | undefined;
  #leaseUntil = 0;
  #kv: Kv | undefined;
  /** Other regions' fence buckets, opened on first read. */
  readonly #remote = new Map<string, Promise<Kv>>();
  #watch: KvWatch | undefined;
  #sub: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #closed = false;

  constructor(o: FailoverOptions) {
    this.#o = o;
    this.#bus = o.bus;
    this.region = o.bus.region;
    this.#regions = o.placement.regions;
    this.failoverAfterMs = o.failoverAfterMs ?? 3000;
    this.leaseMs = Math.floor(this.failoverAfterMs / 2);
    this.probeMs = Math.max(50, Math.floor(this.failoverAfterMs / 6));
  }

  /** Answer probes and claims, open this region's fence bucket (retried in the background), start the rounds. */
  async start(): Promise<void> {
    this.#sub = this.#bus.subscribe(subjects.failover(this.region), (m) => void this.#serve(m), { queue: QUEUE });
    this.#lastBeat = performance.now();
    this.#beat = setInterval(() => this.#catchUp(), BEAT_MS);
    this.#beat.unref();
    await this.#openBucket().catch((err: unknown) => this.#o.onError?.(err));
    // The first lease round runs before start() resolves, so a healthy home can write at once.
    await this.#tick();
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#beat) clearInterval(this.#beat);
    this.#sub?.unsubscribe();
    this.#watch?.stop();
  }

  /** Who writes `conversation` now, as far as this region knows. */
  ownerOf(conversation: string): Ownership {
    const chain = this.#o.placement.chainOf(conversation);
    const home = chain[0]!;
    const replicas = this.#o.placement.replicasOf(conversation).length;
    const taker = chain[1];
    if (taker !== undefined && replicas > 0 && this.#records.has(`${home}|${taker}`)) return { owner: taker, epoch: 2, next: chain.slice(2, 2 + replicas).filter((r) => r !== home) };
    return { owner: home, epoch: 1, next: chain.slice(1, 1 + replicas) };
  }

  /**
   * Resolves when this region may append to `conversation`; a home without a valid lease (just
   * started, or a round missed) waits up to `leaseMs` for the next round before it gives up.
   * Rejects with `MSG_FENCED` (retryable) otherwise.
   */
  async mayWrite(conversation: string): Promise<Ownership> {
    const start = performance.now();
    let until = start + this.leaseMs;
    const poll = Math.min(50, this.probeMs);
    for (;;) {
      const w = this.#writable(conversation);
      if (typeof w !== 'string') return w;
      // Not the owner: no waiting helps. A home without a lease waits `leaseMs` of this process's
      // own running time for a round to renew it: time it spent stalled (its timers late) does
      // not count, as no round could run then. Four leases of wall time at most.
      const now = performance.now();
      if (this.ownerOf(conversation).owner !== this.region || now >= until || now >= start + 4 * this.leaseMs || this.#closed) throw fenced(w, conversation);
      if (!this.#ticking) void this.#tick();
      await new Promise((r) => setTimeout(r, poll));
      const late = performance.now() - now - poll;
      if (late > STALL_SLACK_MS) until += late;
    }
  }

  /** Throws `MSG_FENCED` unless this region may append to `conversation` now. */
  checkWrite(conversation: string): Ownership {
    const w = this.#writable(conversation);
    if (typeof w === 'string') throw fenced(w, conversation);
    return w;
  }

  /** The ownership when this region may append to `conversation` now, else why not (no error built: mayWrite polls). */
  #writable(conversation: string): Ownership | string {
    const o = this.ownerOf(conversation);
    if (o.owner !== this.region) return `${this.region} does not own ${conversation} (owner ${o.owner}, epoch ${o.epoch})`;
    if (o.epoch === 1) {
      if (o.next.length > 0 && performance.now() > this.#leaseUntil) return `${this.region} cannot confirm it still owns ${conversation}: no majority of regions answered lately`;
      return o;
    }
    const ready = this.#readyAt.get(`${this.#o.placement.homeOf(conversation)}|${this.region}`);
    if (ready === undefined || performance.now() < ready) return `${this.region} is taking over ${conversation}; it writes once the old home's lease has run out`;
    return o;
  }

  /** Throws `MSG_FENCED` when `from` may not send copies of `conversation` here (it is not the owner). */
  checkCopyFrom(conversation: string, from: string): void {
    const o = this.ownerOf(conversation);
    if (o.owner !== from) throw fenced(`copies of ${conversation} from ${from} refused: the owner is ${o.owner} (epoch ${o.epoch})`, conversation);
  }

  /** Known takeovers, for /stats and tests. */
  records(): FenceRecord[] {
    return [...this.#records.values()];
  }

  // ---- rounds --------------------------------------------------------------------------

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      void this.#tick().finally(() => this.#schedule());
    }, this.probeMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      if (!this.#kv) await this.#openBucket().catch((err: unknown) => this.#o.onError?.(err));
      const started = performance.now();
      const others = this.#regions.filter((r) => r !== this.region);
      for (const rec of await this.#localRecords(this.region)) this.#learn(rec, 'fenced');
      // One round: probe everyone and read the records about our own pairs from each answer. The
      // lease is renewed as soon as a majority (this region included) has answered with no record
      // against us; slower answers are still read when they come, without holding the round.
      // The records are read from the other regions' buckets directly (their servers answer, no
      // Meridian node needs to run there); liveness, for takeovers, from their nodes' answers.
      for (const r of others) void this.#ask<{ region: string }>(r, { op: 'ping' }).catch(() => undefined);
      const need = majority(this.#regions.length) - (this.#kv ? 1 : 0);
      await new Promise<void>((resolve) => {
        let answered = 0;
        let settled = 0;
        const done = (): void => {
          if (answered >= need && this.#kv) this.#leaseUntil = Math.max(this.#leaseUntil, started + this.leaseMs);
          if (answered >= need || settled === others.length) resolve();
        };
        if (others.length === 0) return done();
        for (const r of others) {
          this.#remoteRecords(r).then(
            (recs) => {
              for (const rec of recs) this.#learn(rec, 'fenced');
              answered++;
              settled++;
              done();
            },
            () => {
              settled++;
              done();
            },
          );
        }
      });
      await this.#maybeTakeOver();
    } finally {
      this.#ticking = false;
    }
  }

  /** Take over pairs whose home we have not heard for failoverAfterMs, when a majority agrees. */
  async #maybeTakeOver(): Promise<void> {
    for (const home of this.#regions) {
      if (home === this.region || this.#records.has(`${home}|${this.region}`)) continue;
      if (!this.#o.placement.takeoverRegionsOf(home).includes(this.region)) continue;
      if (this.#silentFor(home) < this.failoverAfterMs) continue;
      const voters = this.#regions.filter((r) => r !== home && r !== this.region);
      const votes = await Promise.all(voters.map((r) => this.#ask<{ granted: boolean }>(r, { op: 'claim', home, owner: this.region }).then((v) => v.granted, () => false)));
      const granted = votes.filter(Boolean).length + 1;
      if (granted < majority(this.#regions.length)) continue;
      const rec = await this.#create(home, this.region).catch((err: unknown) => {
        this.#o.onError?.(err);
        return null;
      });
      if (!rec) continue;
      this.#readyAt.set(`${home}|${this.region}`, performance.now() + this.leaseMs + Math.max(100, this.probeMs));
      this.#learn(rec, 'won');
    }
  }

  /**
   * This process's own stalls are no evidence against the others: when the event loop ran late
   * (a long synchronous task, a busy machine, a GC pause), answers could not be read and probes
   * could not be sent, so the late part is added to every region's last-heard time (and to the
   * start, for the startup grace). Called by a timer every BEAT_MS and before every silence
   * judgement, so a round running first after a stall sees it too. It only ever delays a
   * takeover: safety rests on the lease and the majority records, not on this.
   */
  #catchUp(): void {
    const now = performance.now();
    const late = now - this.#lastBeat - BEAT_MS;
    this.#lastBeat = now;
    if (late <= STALL_SLACK_MS) return;
    for (const [r, t] of this.#heard) this.#heard.set(r, t + late);
    this.#startedAt += late;
  }

  /** How long `region` has been silent, as far as a takeover goes: never heard since our start counts from start + startupGraceMs. */
  #silentFor(region: string): number {
    this.#catchUp();
    const heard = this.#heard.get(region);
    return performance.now() - (heard ?? this.#startedAt + (this.#o.startupGraceMs ?? STARTUP_GRACE_MS));
  }

  #learn(rec: FenceRecord, role: 'won' | 'fenced' | 'learned'): void {
    const key = `${rec.home}|${rec.owner}`;
    if (this.#records.has(key)) return;
    this.#records.set(key, rec);
    // A record naming us that we did not win here (we restarted after claiming): wait a lease too.
    if (rec.owner === this.region && !this.#readyAt.has(key)) this.#readyAt.set(key, performance.now() + this.leaseMs + Math.max(100, this.probeMs));
    this.#o.onTakeover?.(rec.home, rec.owner, rec.home === this.region ? 'fenced' : role === 'won' ? 'won' : 'learned');
  }

  // ---- this region's bucket -------------------------------------------------------------

  async #openBucket(): Promise<void> {
    if (this.#kv) return;
    const kv = await openKv(this.#bus, placed.fence(this.region));
    this.#kv = kv;
    const watch = await kv.watch({ key: 'f.>' });
    this.#watch = watch;
    void (async () => {
      try {
        for await (const e of watch) {
          if (e.operation !== 'PUT' || e.value.length === 0) continue;
          const rec = decodeRecord(e.value);
          if (rec) this.#learn(rec, 'learned');
        }
      } catch (err) {
        this.#o.onError?.(err);
      }
    })();
  }

  /** The records about this region's pairs in `region`'s bucket, read from its servers. */
  async #remoteRecords(region: string): Promise<FenceRecord[]> {
    let kv = this.#remote.get(region);
    if (!kv) {
      kv = withTimeout(openKv(this.#bus, placed.fence(region)), this.leaseMs);
      this.#remote.set(region, kv);
      kv.catch(() => this.#remote.delete(region));
    }
    const bucket = await kv;
    return withTimeout(readRecords(bucket, this.region, this.#regions), this.leaseMs);
  }

  async #localRecords(home: string): Promise<FenceRecord[]> {
    if (!this.#kv) return [];
    try {
      return await readRecords(this.#kv, home, this.#regions);
    } catch (err) {
      this.#o.onError?.(err);
      return [];
    }
  }

  /** Create the record in this region's bucket (never changed once there); the stored record. */
  async #create(home: string, owner: string): Promise<FenceRecord> {
    if (!this.#kv) await this.#openBucket();
    const kv = this.#kv!;
    const rec: FenceRecord = { home, owner, epoch: 2, at: Date.now() };
    const key = `f.${kvToken(home)}.${kvToken(owner)}`;
    try {
      await kv.create(key, enc.encode(JSON.stringify(rec)));
      return rec;
    } catch (err) {
      if (!isMeridianError(err, ErrorCode.KvKeyExists)) throw err;
      const e = await kv.get(key);
      const existing = e ? decodeRecord(e.value) : null;
      if (!existing) throw err;
      return existing;
    }
  }

  // ---- serving other regions -------------------------------------------------------------

  async #serve(m: BusMessage): Promise<void> {
    if (!m.reply) return;
    let reply: unknown;
    try {
      const req = JSON.parse(dec.decode(m.data)) as Request;
      if (req.op === 'ping') reply = { ok: { region: this.region } };
      else if (req.op === 'claim') {
        // Agree only to what this region sees itself: the home unheard for failoverAfterMs.
        if (typeof req.home !== 'string' || typeof req.owner !== 'string' || !this.#regions.includes(req.home) || !this.#regions.includes(req.owner)) reply = { ok: { granted: false, reason: 'unknown region' } };
        else if (this.#silentFor(req.home) < this.failoverAfterMs) reply = { ok: { granted: false, reason: `${req.home} answered ${Math.round(this.#silentFor(req.home))} ms ago` } };
        else {
          const rec = await this.#create(req.home, req.owner);
          this.#learn(rec, 'learned');
          reply = { ok: { granted: rec.owner === req.owner } };
        }
      } else reply = { error: 'unknown op' };
    } catch (err) {
      reply = { error: String((err as Error)?.message ?? err) };
    }
    try {
      this.#bus.publish(m.reply, enc.encode(JSON.stringify(reply)));
    } catch {
      // the asker is gone
    }
  }

  async #ask<T>(region: string, req: Request): Promise<T> {
    const reply = await this.#bus.request(subjects.failover(region), enc.encode(JSON.stringify(req)), { timeoutMs: this.leaseMs });
    const body = JSON.parse(dec.decode(reply.data)) as { ok?: T; error?: string };
    if (body.ok === undefined) throw new MeridianError(ErrorCode.MsgUnavailable, `failover ${req.op} in ${region}: ${body.error ?? 'no answer'}`);
    this.#heard.set(region, performance.now());
    return body.ok;
  }
}

/**
 * The records about `home` in a bucket: one key per region that may have taken it over, each
 * read by its name (on NATS a get is answered by the bucket's own server). Not `keys()`: on NATS
 * it needs a consumer, whose creation waits for the JetStream meta leader, and while a region
 * holding it is lost the survivors have none for seconds: every home's lease would lapse with it.
 */
async function readRecords(kv: Kv, home: string, regions: readonly string[]): Promise<FenceRecord[]> {
  const found = await Promise.all(regions.filter((r) => r !== home).map((owner) => kv.get(`f.${kvToken(home)}.${kvToken(owner)}`)));
  const out: FenceRecord[] = [];
  for (const e of found) {
    const rec = e && e.value.length > 0 ? decodeRecord(e.value) : null;
    if (rec) out.push(rec);
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new MeridianError(ErrorCode.MsgTimeout, `no answer within ${ms} ms`)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

function fenced(message: string, conversation: string): MeridianError {
  return new MeridianError(ErrorCode.MsgFenced, message, { details: { conversation } });
}

function decodeRecord(v: Uint8Array): FenceRecord | null {
  try {
    const r = JSON.parse(dec.decode(v)) as Partial<FenceRecord>;
    if (typeof r.home === 'string' && typeof r.owner === 'string' && typeof r.epoch === 'number' && typeof r.at === 'number') return r as FenceRecord;
  } catch {
    // not ours
  }
  return null;
}

