/**
 * The live state of regions, as this node sees it, for `GET /v1/regions` and for picking where
 * `migrate` sends clients. Every node answers status requests on `mrd.sys.status.<region>` with
 * its own state; a node asks the other regions (1 s timeout, answers cached 2 s) and reports
 * them unreachable when nothing answers — the same view the bus gives the messaging layer.
 *
 * It also remembers the last answer of each region heard while its own bus was up (`lastKnown`),
 * refreshed by `refresh()` on a timer: when this node's bus goes away it can no longer ask, and
 * that memory is what it picks a region to send its clients to from. While the bus is down
 * `state()` answers unreachable at once instead of waiting out a request that cannot succeed.
 */
import { subjects } from '../bus/subjects.js';
import type { Bus, Subscription } from '../bus/types.js';
import { greatCircleKm } from '../topology/mod.js';
import type { Topology } from '../topology/mod.js';

export interface NodeState {
  readonly region: string;
  readonly node: string;
  readonly draining: boolean;
  /** What its /ready says (absent from nodes of older versions: read as ready unless draining). */
  readonly ready?: boolean;
  readonly sessions: number;
}

export interface RegionState {
  readonly reachable: boolean;
  readonly rttMs?: number;
  readonly nodes: readonly NodeState[];
  readonly checkedAt: number;
}

const CACHE_MS = 2000;
const TIMEOUT_MS = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class RegionView {
  readonly #sub: Subscription;
  readonly #cache = new Map<string, Promise<RegionState>>();
  readonly #last = new Map<string, RegionState>();
  #busUp = true;
  /** Bumped on every bus up/down change: an answer asked across one is not trusted. */
  #epoch = 0;
  #refreshing: Promise<void> | undefined;

  constructor(
    readonly bus: Bus,
    readonly topology: Topology,
    readonly self: () => NodeState,
  ) {
    this.#sub = bus.subscribe(subjects.status(bus.region), (msg) => {
      if (msg.reply) {
        try {
          bus.publish(msg.reply, encoder.encode(JSON.stringify(self())));
        } catch {
          // The bus is closing or down: the asker times out, which is the truth.
        }
      }
    });
  }

  /** Another region's state (cached for a moment; `fresh` asks now, e.g. before `migrate`). */
  state(region: string, opts: { fresh?: boolean } = {}): Promise<RegionState> {
    if (!this.#busUp) return Promise.resolve({ reachable: false, nodes: [], checkedAt: Date.now() });
    const hit = opts.fresh === true ? undefined : this.#cache.get(region);
    if (hit) return hit;
    const p = this.#ask(region);
    this.#cache.set(region, p);
    setTimeout(() => this.#cache.delete(region), CACHE_MS).unref();
    return p;
  }

  async #ask(region: string): Promise<RegionState> {
    const start = performance.now();
    const epoch = this.#epoch;
    let state: RegionState;
    try {
      const reply = await this.bus.request(subjects.status(region), new Uint8Array(0), { timeoutMs: TIMEOUT_MS });
      const node = JSON.parse(decoder.decode(reply.data)) as NodeState;
      state = { reachable: true, rttMs: Math.round((performance.now() - start) * 10) / 10, nodes: [node], checkedAt: Date.now() };
    } catch {
      state = { reachable: false, nodes: [], checkedAt: Date.now() };
    }
    // An ask that failed because our own bus went away says nothing about the other region.
    if (this.#busUp && epoch === this.#epoch) this.#last.set(region, state);
    return state;
  }

  /** This node's bus went down or came back (the node reads `bus.status()`). */
  setBusUp(up: boolean): void {
    if (up === this.#busUp) return;
    this.#busUp = up;
    this.#epoch++;
    this.#cache.clear();
  }

  get busUp(): boolean {
    return this.#busUp;
  }

  /** The last answer heard from `region` while this node's bus was up; undefined if none yet. */
  lastKnown(region: string): RegionState | undefined {
    return this.#last.get(region);
  }

  /**
   * Ask every other region now, for `lastKnown` only (answers are not cached for `state`, which
   * asks on its own schedule). One refresh at a time; nothing while the bus is down.
   */
  refresh(): Promise<void> {
    if (!this.#busUp) return Promise.resolve();
    this.#refreshing ??= Promise.all(this.othersByDistance().map((r) => this.#ask(r)))
      .then(() => undefined)
      .finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Other regions, nearest first (great-circle distance from this region). */
  othersByDistance(): string[] {
    const me = this.topology.regions.find((r) => r.name === this.bus.region);
    if (!me) return [];
    return this.topology.regions
      .filter((r) => r.name !== me.name)
      .map((r) => ({ name: r.name, km: greatCircleKm(me.location, r.location) }))
      .sort((a, b) => a.km - b.km)
      .map((r) => r.name);
  }

  close(): void {
    this.#sub.unsubscribe();
    this.#cache.clear();
    this.#last.clear();
  }
}

/** `ws(s)://host:port/ws` for a region's base URL. */
export function wsUrl(base: string): string {
  const u = new URL(base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/ws';
  u.search = '';
  return u.toString();
}
