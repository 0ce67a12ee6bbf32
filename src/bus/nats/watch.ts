/**
 * `KvWatch` and `keys()` for NATS buckets, both built on `KvFeed`.
 *
 * A watch is an async iterator over a queue the feed fills; it ends on `stop()`, on `break`
 * out of `for await`, or when the bus closes. Entries of the starting snapshot that are delete
 * markers are skipped: a deleted key has no current value to announce.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { KvEntry, KvWatch } from '../types.js';
import { KvFeed } from './feed.js';

export interface FeedTarget {
  nc: NatsConnection;
  jsm: JetStreamManager;
  bucket: string;
}

class NatsKvWatch implements KvWatch {
  readonly #items: KvEntry[] = [];
  #waiting: ((r: IteratorResult<KvEntry>) => void) | undefined;
  #ended = false;
  #onStop: (() => void) | undefined;

  /** Set once the feed exists; stopping the watch stops the feed. */
  bind(onStop: () => void): void {
    this.#onStop = onStop;
    if (this.#ended) onStop();
  }

  push(e: KvEntry): void {
    if (this.#ended) return;
    const w = this.#waiting;
    if (w) {
      this.#waiting = undefined;
      w({ value: e, done: false });
    } else {
      this.#items.push(e);
    }
  }

  stop(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#items.length = 0;
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.({ value: undefined, done: true });
    this.#onStop?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<KvEntry> {
    return {
      next: () => {
        const e = this.#items.shift();
        if (e !== undefined) return Promise.resolve({ value: e, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        this.stop();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** Start a watch; resolves once the server has confirmed it (later changes are all seen). */
export async function startWatch(t: FeedTarget, key: string, initial: boolean, onEnd: (stop: () => void) => () => void): Promise<KvWatch> {
  const watch = new NatsKvWatch();
  const feed = new KvFeed({
    ...t,
    key,
    initial,
    onEntry: (e, isInitial) => {
      if (isInitial && e.operation === 'DEL') return;
      watch.push(e);
    },
  });
  await feed.start();
  const unregister = onEnd(() => watch.stop());
  watch.bind(() => {
    unregister();
    feed.stop();
  });
  return watch;
}

/**
 * Keys holding a value and matching `pattern`: one snapshot of the latest entry per key.
 * `idleMs` bounds the wait for the next entry, not the whole listing, so big buckets still list.
 */
export async function listKeys(t: FeedTarget, pattern: string, idleMs: number): Promise<string[]> {
  const keys: string[] = [];
  let settle!: (timedOut: boolean) => void;
  const finished = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => settle(true), idleMs);
  };
  const feed = new KvFeed({
    ...t,
    key: pattern,
    initial: true,
    headersOnly: true,
    onEntry: (e, isInitial) => {
      arm();
      if (isInitial && e.operation === 'PUT') keys.push(e.key);
    },
    onInitialDone: () => settle(false),
  });
  try {
    await feed.start();
    arm();
    if (await finished) {
      throw new MeridianError(ErrorCode.BusTimeout, `listing keys of bucket ${t.bucket} stalled for ${idleMs} ms`, { details: { bucket: t.bucket } });
    }
  } finally {
    clearTimeout(timer);
    feed.stop();
  }
  return keys;
}
