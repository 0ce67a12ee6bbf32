/**
 * The edge's own view of each region's load, fed by what it proxies: open WebSocket connections
 * and requests per second. Kept deliberately simple until region nodes report their own load; the
 * policy compares these with the topology's capacity caps.
 */
import type { Clock } from '../health/types.js';

interface Counter {
  connections: number;
  /** Requests in the current one-second window and the one before it. */
  current: number;
  previous: number;
  windowStart: number;
}

export class RegionLoad {
  readonly #counters = new Map<string, Counter>();

  constructor(
    regions: readonly string[],
    private readonly clock: Clock = Date.now,
  ) {
    const now = this.clock();
    for (const r of regions) this.#counters.set(r, { connections: 0, current: 0, previous: 0, windowStart: now });
  }

  connectionOpened(region: string): void {
    const c = this.#counters.get(region);
    if (c) c.connections++;
  }

  connectionClosed(region: string): void {
    const c = this.#counters.get(region);
    if (c) c.connections = Math.max(0, c.connections - 1);
  }

  request(region: string): void {
    const c = this.#roll(region);
    if (c) c.current++;
  }

  connections(region: string): number {
    return this.#counters.get(region)?.connections ?? 0;
  }

  /**
   * Sliding one-second estimate: the previous window weighted by how much of it still overlaps
   * the last second, plus the current window (the approximation nginx and Cloudflare use).
   */
  rps(region: string): number {
    const c = this.#roll(region);
    if (!c) return 0;
    const elapsed = Math.min(1, (this.clock() - c.windowStart) / 1000);
    return c.previous * (1 - elapsed) + c.current;
  }

  #roll(region: string): Counter | undefined {
    const c = this.#counters.get(region);
    if (!c) return undefined;
    const now = this.clock();
    const windows = Math.floor((now - c.windowStart) / 1000);
    if (windows >= 1) {
      c.previous = windows === 1 ? c.current : 0;
      c.current = 0;
      c.windowStart += windows * 1000;
    }
    return c;
  }
}
