/**
 * Events as data, without Node's EventEmitter (the client runs in browsers): a typed emitter
 * whose `on` returns the unsubscribe function, and an async queue that turns pushed values into
 * an `AsyncIterableIterator`, ending cleanly on close or with the error that closed the client.
 */

export class Emitter<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Set<(value: never) => void>>();

  on<K extends keyof Events>(event: K, handler: (value: Events[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    const h = handler as (value: never) => void;
    set.add(h);
    return () => void set.delete(h);
  }

  /** Calls every handler; a throwing handler is reported to `onHandlerError`, never to the emitter. */
  emit<K extends keyof Events>(event: K, value: Events[K], onHandlerError?: (err: unknown) => void): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const h of [...set]) {
      try {
        (h as (value: Events[K]) => void)(value);
      } catch (err) {
        onHandlerError?.(err);
      }
    }
  }

  count<K extends keyof Events>(event: K): number {
    return this.handlers.get(event)?.size ?? 0;
  }
}

/** Pushed values read as an async iterator. `end()` finishes it; `end(err)` makes it throw. */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly values: T[] = [];
  private readonly waiters: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  private ended = false;
  private error: unknown;

  constructor(private readonly onReturn?: () => void) {}

  push(value: T): void {
    if (this.ended) return;
    const w = this.waiters.shift();
    if (w) w.resolve({ value, done: false });
    else this.values.push(value);
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    for (const w of this.waiters.splice(0)) {
      if (error !== undefined) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
    this.onReturn?.();
  }

  get size(): number {
    return this.values.length;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.values.length > 0) return Promise.resolve({ value: this.values.shift() as T, done: false });
    if (this.ended) {
      if (this.error !== undefined) {
        const e = this.error;
        this.error = undefined; // throw once, then report done like a finished generator
        return Promise.reject(e instanceof Error ? e : new Error('the stream ended with an error', { cause: e }));
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.values.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
