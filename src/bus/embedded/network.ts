/**
 * `EmbeddedNetwork`: every region in one process, joined by simulated WAN links.
 *
 * It behaves like a NATS super-cluster seen from clients: cross-region traffic arrives after the
 * link's one-way latency (great-circle distance by default), in order per link; a killed region
 * or a cut link loses traffic (at most once) and takes its KV buckets offline until it is back,
 * with their data. Tests and `meridian up` use it so multi-region behaviour runs without servers.
 */
import { EmbeddedBus } from './bus.js';
import { WanCore } from './core.js';
import type { EmbeddedNetworkOptions, EmbeddedRegion } from './core.js';
import { closedError } from './core.js';

export class EmbeddedNetwork {
  private readonly core: WanCore;

  constructor(regions: readonly EmbeddedRegion[], opts: EmbeddedNetworkOptions = {}) {
    this.core = new WanCore(regions, opts);
  }

  get regions(): readonly string[] {
    return this.core.regions;
  }

  get maxPayload(): number {
    return this.core.maxPayload;
  }

  /** A new bus attached to `region` (also allowed while the region is down: it starts offline). */
  connect(region: string): EmbeddedBus {
    if (this.core.closed) throw closedError(region);
    this.core.assertRegion(region);
    return new EmbeddedBus(this.core, region);
  }

  /** Take a region down: its buses report `disconnected`, traffic to and from it is lost. */
  kill(region: string): void {
    this.core.assertRegion(region);
    this.core.setUp(region, false);
  }

  /** Bring a region back: its buses report `reconnected`, subscriptions receive again. */
  revive(region: string): void {
    this.core.assertRegion(region);
    this.core.setUp(region, true);
  }

  isUp(region: string): boolean {
    this.core.assertRegion(region);
    return this.core.isUp(region);
  }

  /**
   * Every retained version of every KV entry, with the region whose servers hold its bucket: what
   * a storage scan reads (tests of residency and erasure check where bytes are, not only what the
   * API answers).
   */
  storedEntries(): { bucket: string; region: string; key: string; value: Uint8Array }[] {
    const out: { bucket: string; region: string; key: string; value: Uint8Array }[] = [];
    for (const store of this.core.buckets.values()) {
      for (const e of store.between(0, Number.POSITIVE_INFINITY, '>')) out.push({ bucket: store.bucket, region: store.home, key: e.key, value: e.value });
    }
    return out;
  }

  /** Cut the link between two regions, both directions. */
  cut(a: string, b: string): void {
    this.core.assertRegion(a);
    this.core.assertRegion(b);
    this.core.setCut(a, b, true);
  }

  restore(a: string, b: string): void {
    this.core.assertRegion(a);
    this.core.assertRegion(b);
    this.core.setCut(a, b, false);
  }

  /** Set a link's one-way latency; messages already in flight keep their order. */
  setLatency(a: string, b: string, ms: number): void {
    this.core.assertRegion(a);
    this.core.assertRegion(b);
    this.core.setLatency(a, b, ms);
  }

  linkLatencyMs(a: string, b: string): number {
    this.core.assertRegion(a);
    this.core.assertRegion(b);
    return this.core.latency(a, b);
  }

  /** Close every bus and drop what is in flight. Idempotent. */
  close(): Promise<void> {
    return this.core.close();
  }
}
