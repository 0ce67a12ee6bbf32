/**
 * Node metrics that count nothing, for the "metrics off" arm of the benches. A region node always
 * has a `NodeMetrics` (it builds one when given none, and its sessions count every frame they
 * write into it), so leaving the option out does not measure a node without metrics: the most
 * frequent metric operation, one count per delivery written, stays in. This subclass turns every
 * event method and the two frame counters into no-ops; what is left is a call to an empty
 * function, which is what "off" can mean without changing the node.
 *
 * Bench-only on purpose: a node of a deployment keeps its metrics (they are what `/metrics`,
 * `/stats`, `/v1/slo` and the dashboard read), so there is no user option for this.
 */
import { NodeMetrics } from '../../src/observability/metrics.js';
import type { NodeMetricsOptions } from '../../src/observability/metrics.js';

const noop = (): void => undefined;

/**
 * Methods of `NodeMetrics` that only read or wire up (scrape time, /stats, setup). Every other
 * method is an event and must be overridden below: the constructor checks, so an event method
 * added to `NodeMetrics` later fails the bench instead of counting in its "off" arm.
 */
const READS = new Set(['constructor', 'setSources', 'addCaller', 'setDlqDepth', 'refreshRtt', 'replicationSummary', 'takeoverSummary', 'deliveriesFrom']);

export class InertNodeMetrics extends NodeMetrics {
  constructor(o: NodeMetricsOptions) {
    super(o);
    // NameCounts is internal to metrics.ts; shadowing `inc` on the two instances is enough.
    this.framesIn.inc = noop;
    this.framesOut.inc = noop;
    const mine = new Set(Object.getOwnPropertyNames(InertNodeMetrics.prototype));
    for (const name of Object.getOwnPropertyNames(NodeMetrics.prototype)) {
      const d = Object.getOwnPropertyDescriptor(NodeMetrics.prototype, name);
      if (typeof d?.value !== 'function' || READS.has(name) || mine.has(name)) continue;
      throw new Error(`InertNodeMetrics does not silence NodeMetrics.${name}: override it (or list it in READS if it only reads)`);
    }
  }

  override connectionOpened(): void {}
  override sessionStarted(): void {}
  override sessionEnded(): void {}
  override delivered(): void {}
  override sendDone(): void {}
  override appended(): void {}
  override replicated(): void {}
  override replicationFailed(): void {}
  override failoverTakeover(): void {}
  override failoverAside(): void {}
  override busStatus(): void {}
  override sendFailed(): void {}
  override slowConsumerGap(): void {}
  override slowConsumerClosed(): void {}
  override rateLimit(): void {}
  override authFailed(): void {}
  override serviceCall(): void {}
}
