/**
 * `RegionErasure`: a region node's erasure service (the contract is in types.ts).
 *
 * Why a majority: a request is written into the erasure bucket of every region the coordinator
 * reaches and accepted only when that is a majority; a region counts itself up to date
 * (`synced`) only after reading a majority of the buckets. Any two majorities share a bucket, so
 * a region that was down when the request was made finds it on return even if the coordinator's
 * own region is down by then. The same argument as the failover's fence records (src/failover).
 *
 * The read gate: from start, and from the moment this region's bus is lost, until a pass has
 * read a majority of buckets and applied what it found, `read` on the gated log waits for such a
 * pass (bounded) and otherwise refuses with a retryable `LOG_UNAVAILABLE`: a region that
 * returns serves none of its data before it has erased what it was asked to while away.
 * Periodic passes that fail while the bus is up (another region down, no JetStream meta leader)
 * do not close the gate: only this region's own bus loss can hide a request from it.
 */
import type { Bus, Kv } from '../bus/types.js';
import { subjects } from '../bus/subjects.js';
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import type { AuditLog } from '../audit/mod.js';
import type { MessageLog } from '../log/mod.js';
import { placed } from '../placement/mod.js';
import { applyErasure, bucketCache, eraseFromLog } from './apply.js';
import { ErasedSubjects } from './erased.js';
import { GatedLog } from './gated-log.js';
import { decodeJson, encodeJson, isConfirmation, isRequest, newErasureId, recordKeys } from './records.js';
import { signConfirmation, signReceipt } from './receipt.js';
import { loadSigningKey } from './signing.js';
import type { SigningKey } from './signing.js';
import type { Confirmation, ErasureRequest, ErasureService, ErasureStatus, ErasureSubject, ErasureTarget, Jwks, RegionStatus } from './types.js';

export interface RegionErasureOptions {
  readonly bus: Bus;
  readonly region: string;
  readonly node: string;
  /** Every region of the topology. */
  readonly regions: readonly string[];
  /** The region's log itself. */
  readonly log: MessageLog;
  /** Where the signing key is kept (`<dataDir>/<region>/erasure-key.jwk`); none or `:memory:`: a key per run. */
  readonly dataDir?: string | undefined;
  readonly audit?: AuditLog | undefined;
  /** How often every region's bucket is looked at. Default 5000 ms. */
  readonly intervalMs?: number;
  /** Limit of one bucket operation in another region. Default 3000 ms. */
  readonly opTimeoutMs?: number;
  readonly onError?: (err: unknown, where: string) => void;
}

const TIMED_OUT = Symbol('timeout');

async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMED_OUT>((r) => (timer = setTimeout(() => r(TIMED_OUT), ms)));
  try {
    const v = await Promise.race([p, t]);
    if (v === TIMED_OUT) throw new MeridianError(ErrorCode.ErasureUnavailable, `an erasure bucket did not answer within ${ms} ms`);
    return v;
  } finally {
    clearTimeout(timer);
  }
}

export class RegionErasure implements ErasureService {
  readonly #o: RegionErasureOptions;
  readonly #bucket: ReturnType<typeof bucketCache>;
  readonly #majority: number;
  readonly #timeoutMs: number;
  /** Ids this region has confirmed (read from its bucket, then kept). */
  readonly #confirmed = new Set<string>();
  /** Subjects with an erasure: what copies must not bring back (erased.ts). */
  readonly #erased = new ErasedSubjects();
  #targets: readonly ErasureTarget[] = [];
  #key: SigningKey | undefined;
  #synced = false;
  /** Bumped whenever the bus is lost: a pass that began before cannot vouch for after. */
  #outages = 0;
  #running: Promise<boolean> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(o: RegionErasureOptions) {
    this.#o = o;
    this.#bucket = bucketCache(o.bus);
    this.#majority = Math.floor(o.regions.length / 2) + 1;
    this.#timeoutMs = o.opTimeoutMs ?? 3000;
  }

  /** Load the key, publish it, take nudges, and run a first pass (its result closes or opens the gate). */
  async start(): Promise<void> {
    this.#key = await loadSigningKey(this.#o.region, this.#o.dataDir);
    const sub = this.#o.bus.subscribe(subjects.erasure(this.#o.region), () => void this.kick(), { queue: 'erasure' });
    this.#unsubscribe = () => sub.unsubscribe();
    void this.#followStatus();
    await this.#publishKey().catch((err: unknown) => this.#o.onError?.(err, 'erasure key'));
    await this.kick();
    const every = this.#o.intervalMs ?? 5000;
    this.#timer = setInterval(() => void this.kick(), every);
    this.#timer.unref();
  }

  /** The modules' erasure targets (dead letters, invocation records); replaced on a node restart. */
  setTargets(targets: readonly ErasureTarget[]): void {
    this.#targets = targets;
  }

  /** Whether reads may be served: a majority pass ran since start and since the bus was last lost. */
  get synced(): boolean {
    return this.#synced;
  }

  /** `log` with reads held back while this region may not have seen every erasure (see above). */
  gate(log: MessageLog): MessageLog {
    return new GatedLog(log, {
      ready: () => this.#whenSynced(),
      erasedSubjectOf: (e) => this.#erased.subjectOf(e),
      eraseAgain: async (subject) => {
        await eraseFromLog(this.#o.log, subject);
      },
    });
  }

  /** Mark the erasures that every region has confirmed (status reads: gets only). */
  async #settle(): Promise<void> {
    for (const id of this.#erased.pending()) {
      const s = await this.status(id).catch(() => null);
      if (s?.complete === true) this.#erased.completed(id);
    }
  }

  /** Run a pass now (coalesced with one in flight); true when it read a majority and applied what it found. */
  kick(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      let ok = false;
      do {
        this.#again = false;
        const outages = this.#outages;
        ok = await this.#pass().catch((err: unknown) => {
          this.#o.onError?.(err, 'erasure pass');
          return false;
        });
        if (ok && outages === this.#outages) this.#synced = true;
        else if (ok) this.#again = true;
        // Never pass again in the same turn: a pass that fails at once (a bus between
        // connections rejects without I/O) asked for again by every gated read would otherwise
        // spin in microtasks and starve every timer and socket of the process.
        if (this.#again && !this.#closed) await new Promise((r) => setTimeout(r, ok ? 0 : 250).unref());
      } while (this.#again && !this.#closed);
      return ok;
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async request(subject: ErasureSubject): Promise<ErasureRequest> {
    const req: ErasureRequest = { id: newErasureId(), subject, requestedAt: Date.now(), requestedIn: this.#o.region };
    const written = await Promise.all(
      this.#o.regions.map(async (r) => {
        try {
          const kv = await within(this.#bucket(placed.erasures(r)), this.#timeoutMs);
          await within(kv.create(recordKeys.request(req.id), encodeJson(req)), this.#timeoutMs);
          return true;
        } catch {
          return false;
        }
      }),
    );
    const n = written.filter(Boolean).length;
    if (n < this.#majority) {
      throw new MeridianError(ErrorCode.ErasureUnavailable, `the erasure request reached ${n} of ${this.#o.regions.length} regions' erasure buckets, not a majority: try again`, { details: { id: req.id, reached: n } });
    }
    for (const r of this.#o.regions) {
      try {
        this.#o.bus.publish(subjects.erasure(r), new Uint8Array());
      } catch {
        // A lost nudge only delays: every region looks at the buckets periodically.
      }
    }
    void this.kick();
    return req;
  }

  async status(id: string): Promise<ErasureStatus | null> {
    const req = await this.#find<ErasureRequest>(recordKeys.request(id), isRequest);
    if (req === undefined) return null;
    const confirmations = await Promise.all(this.#o.regions.map((r) => this.#find<Confirmation>(recordKeys.confirmation(id, r), isConfirmation, r)));
    const regions: RegionStatus[] = this.#o.regions.map((region, i) => {
      const c = confirmations[i];
      return c === undefined ? { region, state: 'pending' } : { region, state: 'done', counts: c.counts, at: c.at, node: c.node };
    });
    const done = confirmations.filter(isConfirmation);
    const complete = done.length === this.#o.regions.length;
    return { id: req.id, subject: req.subject, requestedAt: req.requestedAt, regions, complete, ...(complete ? { receipt: await signReceipt(this.#signingKey(), req, done) } : {}) };
  }

  async jwks(): Promise<Jwks> {
    const mine = this.#signingKey().publicJwk;
    const found = new Map<string, Jwks['keys'][number]>([[mine.kid, mine]]);
    await Promise.all(
      this.#o.regions.map(async (r) => {
        try {
          const kv = await within(this.#bucket(placed.erasures(r)), this.#timeoutMs);
          for (const k of await within(kv.keys(recordKeys.keys()), this.#timeoutMs)) {
            const jwk = decodeJson<Jwks['keys'][number]>((await within(kv.get(k), this.#timeoutMs))?.value);
            if (jwk?.kid !== undefined) found.set(jwk.kid, jwk);
          }
        } catch {
          // An unreachable region: its key is also in the buckets it reached when it published.
        }
      }),
    );
    return { keys: [...found.values()] };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
  }

  #signingKey(): SigningKey {
    if (this.#key === undefined) throw new MeridianError(ErrorCode.ErasureUnavailable, 'the erasure service has not started');
    return this.#key;
  }

  async #followStatus(): Promise<void> {
    try {
      for await (const s of this.#o.bus.status()) {
        if (this.#closed || s.type === 'closed') return;
        // Requests made while this region was cut off are in the others' buckets: read them first.
        if (s.type === 'disconnected' || s.type === 'reconnecting') {
          this.#synced = false;
          this.#outages++;
        }
        else if (s.type === 'reconnected') void this.kick();
      }
    } catch {
      // The status stream ended: the bus reports its closure.
    }
  }

  async #whenSynced(): Promise<void> {
    if (this.#synced) return;
    await within(this.kick(), 2 * this.#timeoutMs).catch(() => false);
    if (!this.#synced) {
      throw new MeridianError(ErrorCode.LogUnavailable, `region ${this.#o.region} has not yet checked for erasures made while it was away: try again`, { details: { region: this.#o.region } });
    }
  }

  /** A record from any reachable bucket, `prefer`'s first (a confirmation's own region). */
  async #find<T>(key: string, valid: (v: T | undefined) => v is T, prefer?: string): Promise<T | undefined> {
    const order = [...(prefer === undefined ? [] : [prefer]), this.#o.region, ...this.#o.regions.filter((r) => r !== prefer && r !== this.#o.region)];
    for (const r of order) {
      try {
        const kv = await within(this.#bucket(placed.erasures(r)), this.#timeoutMs);
        const v = decodeJson<T>((await within(kv.get(key), this.#timeoutMs))?.value);
        if (valid(v)) return v;
      } catch {
        // unreachable: ask the next one
      }
    }
    return undefined;
  }

  async #publishKey(): Promise<void> {
    const key = this.#signingKey();
    await Promise.all(
      this.#o.regions.map(async (r) => {
        const kv = await within(this.#bucket(placed.erasures(r)), this.#timeoutMs);
        await within(kv.put(recordKeys.key(key.kid), encodeJson(key.publicJwk)), this.#timeoutMs);
      }),
    ).catch((err: unknown) => {
      if (!this.#closed) this.#o.onError?.(err, 'erasure key publication');
    });
  }

  async #pass(): Promise<boolean> {
    const reached = (
      await Promise.all(
        this.#o.regions.map(async (r) => {
          try {
            const kv = await within(this.#bucket(placed.erasures(r)), this.#timeoutMs);
            return { region: r, kv, keys: await within(kv.keys(recordKeys.requests()), this.#timeoutMs) };
          } catch {
            return undefined;
          }
        }),
      )
    ).filter((x) => x !== undefined);
    const own = reached.find((x) => x.region === this.#o.region);
    if (own === undefined || reached.length < this.#majority) return false;
    if (this.#confirmed.size === 0) for (const k of await within(own.kv.keys(recordKeys.confirmedBy(this.#o.region)), this.#timeoutMs)) this.#confirmed.add(recordKeys.idOf(k));
    const holders = new Map<string, Kv[]>();
    for (const x of reached) for (const k of x.keys) holders.set(recordKeys.idOf(k), [...(holders.get(recordKeys.idOf(k)) ?? []), x.kv]);
    const todo: ErasureRequest[] = [];
    for (const [id, kvs] of holders) {
      if (this.#confirmed.has(id) && this.#erased.has(id)) continue;
      if (!this.#erased.has(id)) {
        for (const kv of kvs) {
          const req = decodeJson<ErasureRequest>((await within(kv.get(recordKeys.request(id)), this.#timeoutMs))?.value);
          if (isRequest(req)) {
            this.#erased.remember(req);
            break;
          }
        }
      }
      if (this.#confirmed.has(id)) continue;
      if ((await within(own.kv.get(recordKeys.confirmation(id, this.#o.region)), this.#timeoutMs)) !== null) {
        this.#confirmed.add(id);
        continue;
      }
      for (const kv of kvs) {
        const req = decodeJson<ErasureRequest>((await within(kv.get(recordKeys.request(id)), this.#timeoutMs))?.value);
        if (isRequest(req)) {
          todo.push(req);
          break;
        }
      }
    }
    for (const req of todo.sort((a, b) => a.requestedAt - b.requestedAt)) await this.#process(req, own.kv, reached.map((x) => x.kv));
    await this.#settle();
    return true;
  }

  async #process(req: ErasureRequest, own: Kv, reachable: readonly Kv[]): Promise<void> {
    this.#erased.remember(req);
    // The request joins this region's bucket too: one more copy for the majority reads.
    await own.create(recordKeys.request(req.id), encodeJson(req)).catch((err: unknown) => {
      if (!isMeridianError(err, ErrorCode.KvKeyExists)) throw err;
    });
    const counts = await applyErasure({ bus: this.#o.bus, region: this.#o.region, log: this.#o.log, targets: () => this.#targets, bucket: this.#bucket }, req.subject);
    const c = await signConfirmation(this.#signingKey(), req, this.#o.node, counts, Date.now());
    const key = recordKeys.confirmation(req.id, this.#o.region);
    try {
      await own.create(key, encodeJson(c));
    } catch (err) {
      // Another node of this region confirmed first: its counts stand (it erased what there was).
      if (!isMeridianError(err, ErrorCode.KvKeyExists)) throw err;
    }
    this.#confirmed.add(req.id);
    this.#o.audit?.record({ actor: { kind: 'admin', id: 'erasure' }, action: 'erasure.done', target: req.id, outcome: 'ok' });
    // Copies elsewhere let the status be answered while this region is away; best effort.
    const jwk = this.#signingKey().publicJwk;
    await Promise.all(
      reachable
        .filter((kv) => kv !== own)
        .map(async (kv) => {
          await within(kv.create(key, encodeJson(c)), this.#timeoutMs).catch(() => undefined);
          await within(kv.put(recordKeys.key(jwk.kid), encodeJson(jwk)), this.#timeoutMs).catch(() => undefined);
        }),
    );
  }
}
