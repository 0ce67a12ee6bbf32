/**
 * Fan-out of connection status to any number of `status()` iterators.
 *
 * nats.js delivers status through one iterator we read once per connection; callers may call
 * `Bus.status()` many times, and each caller must see every event that happens after its call
 * (not after its first `next()`), so registration happens at `iterable()` time. Events are
 * rare, but a caller that never reads must not grow memory forever: each queue keeps the
 * latest `MAX_QUEUED` events.
 */
import type { Status } from '@nats-io/transport-node';
import type { BusStatus } from '../types.js';

const MAX_QUEUED = 256;

class StatusQueue implements AsyncIterableIterator<BusStatus> {
  readonly #items: BusStatus[] = [];
  #waiting: ((r: IteratorResult<BusStatus>) => void) | undefined;
  #ended = false;
  readonly #onEnd: (q: StatusQueue) => void;

  constructor(onEnd: (q: StatusQueue) => void) {
    this.#onEnd = onEnd;
  }

  push(s: BusStatus): void {
    if (this.#ended) return;
    const w = this.#waiting;
    if (w) {
      this.#waiting = undefined;
      w({ value: s, done: false });
      return;
    }
    this.#items.push(s);
    if (this.#items.length > MAX_QUEUED) this.#items.shift();
  }

  /** No more events: readers drain what is queued, then finish. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<BusStatus>> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<BusStatus>> {
    this.#items.length = 0;
    this.end();
    this.#onEnd(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<BusStatus> {
    return this;
  }
}

export class StatusFanout {
  readonly #queues = new Set<StatusQueue>();
  #ended = false;

  emit(s: BusStatus): void {
    for (const q of this.#queues) q.push(s);
  }

  /** End every iterator (after it has read what is queued); later iterables end at once. */
  end(): void {
    this.#ended = true;
    for (const q of this.#queues) q.end();
    this.#queues.clear();
  }

  iterable(): AsyncIterableIterator<BusStatus> {
    const q = new StatusQueue((x) => this.#queues.delete(x));
    if (this.#ended) q.end();
    else this.#queues.add(q);
    return q;
  }
}

/**
 * A nats.js status as a `BusStatus`, or undefined when callers need not see it. `reconnecting`
 * says whether this outage already reported reconnecting: nats.js reports every attempt.
 */
export function mapNatsStatus(s: Status, region: string, reconnecting: boolean): BusStatus | undefined {
  switch (s.type) {
    case 'disconnect':
      return { type: 'disconnected', region, reason: `lost server ${s.server}` };
    case 'reconnecting':
      return reconnecting ? undefined : { type: 'reconnecting', region };
    case 'reconnect':
      return { type: 'reconnected', region };
    case 'error':
      return { type: 'error', region, error: s.error };
    // 'close' is reported by the bus from closed(), so that it comes exactly once, last.
    default:
      return undefined;
  }
}
