/**
 * The simulated WAN behind `EmbeddedNetwork`: regions, link latencies, faults, and routing.
 *
 * Internal: buses and KV handles talk to this; users see `EmbeddedNetwork`. Everything that
 * crosses regions goes through `send()`, so one place decides latency, FIFO order and drops
 * (killed region, cut link) exactly as a core-NATS gateway would: at most once.
 */
import { greatCircleKm } from '../../topology/geo.js';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { BusMessage, BusStatus } from '../types.js';
import { Link } from './link.js';
import { SubIndex } from './sub-index.js';
import type { SubRecord } from './sub-index.js';
import type { BucketStore } from './kv-store.js';

export interface EmbeddedRegion {
  readonly name: string;
  readonly lat: number;
  readonly lon: number;
}

export interface EmbeddedNetworkOptions {
  /** One-way latency per link: a function, or overrides keyed `"a|b"` (either order). */
  latencyMs?: ((a: string, b: string) => number) | Readonly<Record<string, number>>;
  /** Default latency per 100 km of great-circle distance. Default 1. */
  msPer100Km?: number;
  /** Largest payload in bytes. Default 1 MiB (the nats-server default). */
  maxPayload?: number;
}

/** What the core needs from an attached bus. */
export interface Attached {
  readonly region: string;
  onStatus(status: BusStatus): void;
  close(): Promise<void>;
}

export const closedError = (region: string): MeridianError =>
  new MeridianError(ErrorCode.BusClosed, `the bus in ${region} is closed`, { details: { region } });

export const unavailableError = (from: string, to: string): MeridianError =>
  new MeridianError(ErrorCode.BusUnavailable, `region ${to} is unreachable from ${from}`, { details: { from, to } });

const invalid = (message: string): MeridianError => new MeridianError(ErrorCode.InvalidArgument, message);

const pairKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

export class WanCore {
  readonly regions: readonly string[];
  readonly maxPayload: number;
  readonly buckets = new Map<string, BucketStore>();
  private readonly places = new Map<string, EmbeddedRegion>();
  private readonly down = new Set<string>();
  private readonly cuts = new Set<string>();
  private readonly latencyOverrides = new Map<string, number>();
  private readonly links = new Map<string, Link>();
  private readonly subs = new Map<string, SubIndex>();
  private readonly attached = new Set<Attached>();
  closed = false;

  constructor(regions: readonly EmbeddedRegion[], private readonly opts: EmbeddedNetworkOptions) {
    if (regions.length === 0) throw invalid('an embedded network needs at least one region');
    for (const r of regions) {
      if (this.places.has(r.name)) throw invalid(`region ${r.name} is listed twice`);
      if (!Number.isFinite(r.lat) || !Number.isFinite(r.lon)) throw invalid(`region ${r.name} has no valid lat/lon`);
      this.places.set(r.name, r);
      this.subs.set(r.name, new SubIndex());
    }
    this.regions = regions.map((r) => r.name);
    this.maxPayload = opts.maxPayload ?? 1024 * 1024;
    if (!Number.isInteger(this.maxPayload) || this.maxPayload <= 0) throw invalid('maxPayload must be a positive integer');
    if (opts.msPer100Km !== undefined && !(opts.msPer100Km >= 0)) throw invalid('msPer100Km must be >= 0');
  }

  assertRegion(region: string): void {
    if (!this.places.has(region)) {
      throw new MeridianError(ErrorCode.BusUnknownRegion, `unknown region ${JSON.stringify(region)}`, { details: { region, known: this.regions } });
    }
  }

  isUp(region: string): boolean {
    return !this.down.has(region);
  }

  reachable(a: string, b: string): boolean {
    return !this.closed && this.isUp(a) && this.isUp(b) && (a === b || !this.cuts.has(pairKey(a, b)));
  }

  latency(a: string, b: string): number {
    if (a === b) return 0;
    const set = this.latencyOverrides.get(pairKey(a, b));
    if (set !== undefined) return set;
    const opt = this.opts.latencyMs;
    if (typeof opt === 'function') return opt(a, b);
    const fromRecord = opt?.[`${a}|${b}`] ?? opt?.[`${b}|${a}`];
    if (fromRecord !== undefined) return fromRecord;
    return (greatCircleKm(this.places.get(a)!, this.places.get(b)!) / 100) * (this.opts.msPer100Km ?? 1);
  }

  setLatency(a: string, b: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw invalid(`latency must be a finite number >= 0, got ${ms}`);
    this.latencyOverrides.set(pairKey(a, b), ms);
  }

  /** Deliver `run` in `to` after the link latency, in FIFO order; `drop` if it cannot arrive. */
  send(from: string, to: string, run: () => void, drop?: () => void): void {
    if (!this.reachable(from, to)) {
      drop?.();
      return;
    }
    const arrive = (): void => {
      // Re-checked on arrival: a region killed or a link cut while in flight loses the message.
      if (this.reachable(from, to)) run();
      else drop?.();
    };
    this.link(from, to).push(this.latency(from, to), arrive, drop);
  }

  /** A request to `to` and its answer: `atHome` runs there, `onReturn` back in `from`. */
  roundTrip<T>(from: string, to: string, atHome: () => T, onReturn?: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const unavailable = (): void => reject(unavailableError(from, to));
      this.send(from, to, () => {
        let result: { ok: true; value: T } | { ok: false; error: unknown };
        try {
          result = { ok: true, value: atHome() };
        } catch (error) {
          result = { ok: false, error };
        }
        this.send(to, from, () => {
          if (!result.ok) {
            reject(result.error instanceof Error ? result.error : new Error(String(result.error)));
            return;
          }
          onReturn?.(result.value);
          resolve(result.value);
        }, unavailable);
      }, unavailable);
    });
  }

  addSub(sub: SubRecord): void {
    this.subs.get(sub.region)!.add(sub);
  }

  removeSub(sub: SubRecord): void {
    this.subs.get(sub.region)?.remove(sub);
  }

  /** Every subscription registered in `region`. */
  subsIn(region: string): SubRecord[] {
    return this.subs.get(region)?.all() ?? [];
  }

  /** Is anything subscribed to `subject` in a region `from` can reach? */
  hasInterest(from: string, subject: string): boolean {
    return this.regions.some((r) => this.reachable(from, r) && this.subs.get(r)!.match(subject).length > 0);
  }

  /** Fan a published message out: every plain subscriber, one member per queue group. */
  route(from: string, msg: BusMessage): void {
    const perRegion = new Map<string, SubRecord[]>();
    const groups = new Map<string, SubRecord[]>();
    for (const region of this.regions) {
      if (!this.reachable(from, region)) continue;
      for (const sub of this.subs.get(region)!.match(msg.subject)) {
        // As in NATS, a queue group is the queue name on one subscription subject.
        if (sub.queue === undefined) append(perRegion, region, sub);
        else append(groups, `${sub.queue} ${sub.subject}`, sub);
      }
    }
    for (const members of groups.values()) {
      const chosen = this.pickMember(from, members);
      append(perRegion, chosen.region, chosen);
    }
    for (const [region, targets] of perRegion) {
      this.send(from, region, () => {
        for (const sub of targets) if (sub.active) sub.deliver(msg);
      });
    }
  }

  /** A member in the publisher's region, else one in the nearest region; random among equals. */
  private pickMember(from: string, members: readonly SubRecord[]): SubRecord {
    let best: SubRecord[] = [];
    let bestMs = Infinity;
    for (const m of members) {
      const ms = m.region === from ? -1 : this.latency(from, m.region);
      if (ms < bestMs) {
        best = [m];
        bestMs = ms;
      } else if (ms === bestMs) best.push(m);
    }
    return best[Math.floor(Math.random() * best.length)]!;
  }

  attach(bus: Attached): void {
    this.attached.add(bus);
  }

  detach(bus: Attached): void {
    this.attached.delete(bus);
  }

  setUp(region: string, up: boolean): void {
    if (this.isUp(region) === up) return;
    if (up) this.down.delete(region);
    else this.down.add(region);
    const status: BusStatus = up ? { type: 'reconnected', region } : { type: 'disconnected', region, reason: 'region is down' };
    for (const bus of this.attached) if (bus.region === region) bus.onStatus(status);
    if (up) this.resyncWatchers();
  }

  setCut(a: string, b: string, cut: boolean): void {
    if (a === b) throw invalid('a link joins two different regions');
    if (cut) this.cuts.add(pairKey(a, b));
    else if (this.cuts.delete(pairKey(a, b))) this.resyncWatchers();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.attached].map((b) => b.close()));
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }

  /** Watchers that missed changes while cut off catch up, like a NATS ordered consumer. */
  private resyncWatchers(): void {
    for (const store of this.buckets.values()) for (const w of store.watchers) w.resync();
  }

  private link(from: string, to: string): Link {
    const key = `${from}>${to}`;
    let link = this.links.get(key);
    if (!link) {
      link = new Link((err) => {
        const error = err instanceof Error ? err : new Error(String(err));
        for (const bus of this.attached) if (bus.region === to) bus.onStatus({ type: 'error', region: to, error });
      });
      this.links.set(key, link);
    }
    return link;
  }
}

function append<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
