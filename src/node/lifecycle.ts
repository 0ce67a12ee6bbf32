/**
 * Where a region node is in its life, in one place: what `/ready`, the WebSocket admission, the
 * bus-loss evacuation and `RegionNode` all read, instead of flags scattered over the server.
 *
 * - `draining`: from `drain()` (or `close()`) on, for good: `/ready` is 503 and upgrades are refused;
 * - `down`: between `takeDown()` and `bringUp()` (a simulated region failure): nothing listens;
 * - `closed`: from `close()` on, for good;
 * - `busUp`: the node's own bus as bus-watch.ts last reported it (a mirror kept by its `onChange`).
 *
 * Ready means: none of the first three, the bus up and every HTTP module ready.
 */
import type { HttpModule } from '../module/http-module.js';

/** Why `/ready` says 503 (absent when ready). */
export type NotReadyReason = 'draining' | 'bus_disconnected' | 'module_not_ready';

export class Lifecycle {
  #draining = false;
  #down = false;
  #closed = false;
  #busUp = true;

  constructor(readonly modules: readonly HttpModule[]) {}

  get draining(): boolean {
    return this.#draining;
  }

  get down(): boolean {
    return this.#down;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get busUp(): boolean {
    return this.#busUp;
  }

  /** Whether new WebSocket sessions may start here (the bus is checked apart: its refusal says so). */
  get accepting(): boolean {
    return !this.#draining && !this.#down && !this.#closed;
  }

  ready(): boolean {
    return this.accepting && this.#busUp && this.modules.every((m) => m.ready?.() ?? true);
  }

  /** The reason `/ready` gives; undefined when ready. A node taken down answers nothing at all. */
  notReadyReason(): NotReadyReason | undefined {
    if (this.#draining) return 'draining';
    if (!this.#busUp) return 'bus_disconnected';
    return this.ready() ? undefined : 'module_not_ready';
  }

  /** Start draining; true the first time (the caller logs it). */
  startDrain(): boolean {
    const first = !this.#draining;
    this.#draining = true;
    return first;
  }

  /** Go down; false when already down or closed (nothing to do). */
  takeDown(): boolean {
    if (this.#down || this.#closed) return false;
    this.#down = true;
    return true;
  }

  /** Whether `bringUp` has anything to do: down, and not closed since. */
  get canBringUp(): boolean {
    return this.#down && !this.#closed;
  }

  /** Listening again (after `takeDown`). */
  broughtUp(): void {
    this.#down = false;
  }

  /** Closing: draining too, for good. */
  close(): void {
    this.#draining = true;
    this.#closed = true;
  }

  setBusUp(up: boolean): void {
    this.#busUp = up;
  }
}
