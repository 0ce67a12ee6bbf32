/**
 * Placement: the one module that decides where each kind of state lives. No other module names a
 * KV bucket or a JetStream stream, or chooses the region that holds one (test/placement/only.test.ts
 * checks the source for it); they ask here and open what they are given with `openKv`.
 *
 * No region is special: nothing is placed by the order of regions in the topology.
 *
 *   state                          owner                         bucket / stream
 *   presence (nodes, users, rooms)  the region of the node        mrd-presence-<region>
 *   worker registry                 the region that took the      mrd-workers-<region>
 *                                   worker's last heartbeat
 *   dead letters                    the region that accepted      mrd-dlq-<region>
 *   audit trail                     the region where it happened  mrd-audit-<region>
 *   conversation log + head         the conversation's home       MRD_LOG_<region>, MRD_LOGHEAD_<region>
 *   inbox index, cursors            the conversation's home       mrd-inbox-<region>, mrd-cursors-<region>
 *   erasure requests, confirmations every region (a copy each)    mrd-erasures-<region>
 *
 * Region-owned state is written only in its region (a local write) and read everywhere from a
 * local copy each reader keeps by watching every region's bucket. Conversation-owned state is
 * written and read at the conversation's home, through the home's node (one round trip, the same
 * one a send to it costs).
 *
 * A conversation's home is decided from its id and the topology, with no directory: the first
 * `placement.conversations` rule whose glob matches the id gives the candidate regions (every
 * region without a match), and rendezvous hashing (highest-random-weight) picks one of them.
 * Every region computes the same home without asking anyone, so starting a conversation costs at
 * most one round trip to its home and two regions can never both claim it. Changing a rule's
 * candidate set moves the homes of the conversations it covers (about 1/n of them when one of n
 * regions is added): pin the set with a rule before adding a region until homes can move with
 * their data (replicated logs, the next step).
 */
import { createHash } from 'node:crypto';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { buckets, streams } from '../bus/subjects.js';
import type { Bus, Kv, KvOptions } from '../bus/types.js';
import { globMatch } from '../protocol/glob.js';
import { linkLatencyMs } from '../topology/mod.js';
import type { Topology } from '../topology/mod.js';
import { Residency } from '../residency/mod.js';
import type { ResidencyTopology } from '../residency/mod.js';

/** A bucket and the region whose servers hold it. */
export interface Place {
  readonly name: string;
  readonly region: string;
}

/** A region's message log: its name (JetStream streams `MRD_LOG_<name>`, `MRD_LOGHEAD_<name>`). */
export interface LogPlace extends Place {
  readonly stream: string;
  readonly headStream: string;
}

const logName = (region: string): string => region.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32);

/** The JetStream streams of the message log named `name` (src/log/nats.ts opens them). */
export function logStreams(name: string): { stream: string; headStream: string } {
  return { stream: streams.log(name), headStream: streams.logHead(name) };
}

const KV_STREAM = `KV_${buckets.name('')}`;
const LOG_STREAM = /^MRD_LOG(HEAD)?_/;

/** True for the stream of any bucket or log Meridian places (the doctor checks where they are). */
export function isMeridianStream(stream: string): boolean {
  return stream.startsWith(KV_STREAM) || LOG_STREAM.test(stream);
}

/** Region-owned and conversation-owned state, by the region that holds it. */
export const placed = {
  presence: (region: string): Place => ({ name: buckets.name(`presence-${region}`), region }),
  workers: (region: string): Place => ({ name: buckets.name(`workers-${region}`), region }),
  dlq: (region: string): Place => ({ name: buckets.name(`dlq-${region}`), region }),
  audit: (region: string): Place => ({ name: buckets.name(`audit-${region}`), region }),
  inbox: (region: string): Place => ({ name: buckets.name(`inbox-${region}`), region }),
  cursors: (region: string): Place => ({ name: buckets.name(`cursors-${region}`), region }),
  /** Erasure requests and this region's confirmations (src/erasure). */
  erasures: (region: string): Place => ({ name: buckets.name(`erasures-${region}`), region }),
  /** Takeover records of the homes this region agreed were lost (src/failover). */
  fence: (region: string): Place => ({ name: buckets.name(`fence-${region}`), region }),
  log: (region: string): LogPlace => {
    const name = logName(region);
    return { name, region, ...logStreams(name) };
  },
} as const;

/** Open (creating if needed) the bucket at `place`, held by the servers of `place.region`. */
export function openKv(bus: Bus, place: Place, opts: Omit<KvOptions, 'region'> = {}): Promise<Kv> {
  return bus.kv(place.name, { ...opts, region: place.region });
}

/** Every bucket and stream a deployment of these regions has, for the doctor and the docs. */
export function everyPlace(regions: readonly string[]): { buckets: Place[]; logs: LogPlace[] } {
  const kinds = [placed.presence, placed.workers, placed.dlq, placed.audit, placed.inbox, placed.cursors, placed.fence, placed.erasures];
  return { buckets: regions.flatMap((r) => kinds.map((k) => k(r))), logs: regions.map((r) => placed.log(r)) };
}

const MAX_CACHED = 50_000;

/** Where conversations are homed, for one topology. */
export class ConversationPlacement {
  readonly regions: readonly string[];
  readonly #rules: readonly { match: string; regions: readonly string[] }[];
  /** Each conversation's chain (home first), computed once: several lookups per send use it. */
  readonly #cache = new Map<string, readonly string[]>();
  readonly #rtt: (a: string, b: string) => number;
  readonly #replicas: number;
  /** Residency narrows every candidate set to the regions the conversation's rules allow (src/residency). */
  readonly residency: Residency;

  /**
   * `rtt` orders replicas by distance from the home (default: the topology's WAN when it has
   * one, else every region equally far and ties by name).
   */
  constructor(
    topology: { readonly regions: readonly { readonly name: string; readonly jurisdiction?: string }[]; readonly placement?: Topology['placement']; readonly replication?: { readonly replicas: number }; readonly residency?: ResidencyTopology['residency'] },
    rtt?: (a: string, b: string) => number,
  ) {
    this.regions = topology.regions.map((r) => r.name);
    this.residency = new Residency({ regions: topology.regions.map((r) => ({ name: r.name, jurisdiction: r.jurisdiction ?? '' })), ...(topology.residency === undefined ? {} : { residency: topology.residency }) });
    this.#rules = topology.placement?.conversations ?? [];
    this.#replicas = topology.replication?.replicas ?? 0;
    this.#rtt = rtt ?? ('wan' in topology ? (a, b) => linkLatencyMs(topology as Topology, a, b) : () => 0);
  }

  /**
   * The regions holding a copy of the conversation's log besides its home, nearest to the home
   * first: its failover order (src/failover). Empty when replication is off.
   */
  replicasOf(conversation: string): readonly string[] {
    return this.chainOf(conversation).slice(1, 1 + this.#replicas);
  }

  /**
   * The conversation's failover chain: its home, then the other candidates nearest the home
   * first. The owner at epoch e is `chain[e - 1]`; its replicas are the next `replicas` entries.
   */
  chainOf(conversation: string): readonly string[] {
    const hit = this.#cache.get(conversation);
    if (hit !== undefined) return hit;
    const candidates = this.candidates(conversation);
    const home = rendezvous(conversation, candidates);
    const chain = [home, ...this.#byDistance(home, candidates)];
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(conversation, chain);
    return chain;
  }

  /** The regions that take over some conversations homed in `home` when it is lost (its replicas' regions). */
  takeoverRegionsOf(home: string): readonly string[] {
    if (this.#replicas === 0) return [];
    const base = [this.regions, ...this.#rules.map((r) => r.regions)];
    const confined = this.residency.regionSets();
    const sets = [...base, ...base.flatMap((b) => confined.map((c) => b.filter((r) => c.includes(r))))].filter((s) => s.includes(home));
    return [...new Set(sets.flatMap((s) => this.#byDistance(home, s).slice(0, this.#replicas)))];
  }

  #byDistance(home: string, regions: readonly string[]): string[] {
    return regions.filter((r) => r !== home).sort((a, b) => this.#rtt(home, a) - this.#rtt(home, b) || (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * The regions that may home `conversation`: those of the first matching rule, else every
   * region; narrowed to the regions its residency rules allow. RESIDENCY_CONFLICT when none is left.
   */
  candidates(conversation: string): readonly string[] {
    const ruled = this.#rules.find((r) => globMatch(r.match, conversation))?.regions ?? this.regions;
    const allowed = this.residency.storable(conversation).regions;
    if (allowed === undefined) return ruled;
    const both = ruled.filter((r) => allowed.includes(r));
    if (both.length === 0) {
      throw new MeridianError(ErrorCode.ResidencyConflict, `${conversation} may be placed only in ${ruled.join(', ')} (placement) and stored only in ${allowed.join(', ')} (residency): no region is both`, { details: { conversation, placement: ruled, residency: allowed } });
    }
    return both;
  }

  /** The conversation's home region. The same answer in every region, computed locally. */
  homeOf(conversation: string): string {
    return this.chainOf(conversation)[0]!;
  }
}

/** Rendezvous (highest-random-weight) hashing: the candidate scoring highest for `id`. */
function rendezvous(id: string, candidates: readonly string[]): string {
  let best = '';
  let bestScore = -1n;
  for (const region of candidates) {
    const score = createHash('sha256').update(region).update('\0').update(id).digest().readBigUInt64BE(0);
    if (score > bestScore || (score === bestScore && region < best)) {
      best = region;
      bestScore = score;
    }
  }
  return best;
}
