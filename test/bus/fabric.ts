/**
 * What the bus conformance suite runs against: a set of regions joined into one fabric, with the
 * fault switches the suite needs. One factory per implementation (embedded, NATS super-cluster).
 */
import type { Bus } from '../../src/bus/types.js';

export interface BusFabric {
  /** Region names, at least three. */
  readonly regions: readonly string[];
  /** One-way latency in ms of the link between two regions (symmetric). */
  linkLatencyMs(a: string, b: string): number;
  /** A new bus attached to `region`. The fabric closes it on `close()`. */
  connect(region: string): Promise<Bus>;
  /** Take a region's servers down: nothing reaches it or leaves it, its KV buckets are offline. */
  kill(region: string): Promise<void>;
  /** Bring a killed region back with its stored state (KV, streams) intact. */
  revive(region: string): Promise<void>;
  /** Cut the link between two regions (both directions), and restore it. */
  cut(a: string, b: string): Promise<void>;
  restore(a: string, b: string): Promise<void>;
  close(): Promise<void>;
}

export interface FabricFactory {
  /** Shown in test names, e.g. "embedded" or "nats". */
  readonly name: string;
  create(): Promise<BusFabric>;
  /**
   * Tests this implementation is known not to pass, each with the reason. The suite marks them
   * skipped with that reason, so a difference is visible in the output, never silent.
   */
  readonly knownDifferences?: ReadonlyArray<{ test: string; reason: string }>;
}
