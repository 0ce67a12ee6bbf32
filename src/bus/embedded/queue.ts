/**
 * A single-consumer async queue: the shape behind `status()` iterators and KV watches.
 *
 * Producers `push` without waiting; the consumer iterates with `for await`. `end()` lets the
 * consumer drain what is already queued (so a final `closed` status is still seen), while the
 * consumer breaking out of its loop (`return()`) discards the rest and tells the owner.
 */

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private waiters: Array<(r: IteratorResult<T>) => void> = [];
  private ended = false;

  /** `onReturn` runs once when the consumer stops iterating early. */
  constructor(private readonly onReturn?: () => void) {}

  get isEnded(): boolean {
    return this.ended;
  }

  push(value: T): void {
    if (this.ended) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter({ value, done: false });
    else this.items.push(value);
  }

  /** No more values; what is queued is still delivered. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    const wasEnded = this.ended;
    this.items = [];
    this.end();
    if (!wasEnded) this.onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
