/**
 * Delivery of `PresenceChange`s to `watch` handlers: queued and dispatched in a microtask, so a
 * handler never runs inside the `connect`/`join` call that caused the change (the region node
 * calls those from socket handlers and must not be re-entered), in order, each handler isolated
 * from the others' exceptions. Nothing is queued while nobody watches.
 */
import type { PresenceChange } from './types.js';

export class ChangeFanout {
  private readonly handlers = new Set<(change: PresenceChange) => void>();
  private queue: PresenceChange[] = [];
  private scheduled = false;
  private closed = false;

  constructor(private readonly onHandlerError: (err: unknown) => void) {}

  /** Add a handler; the same function may be added twice, each returned stop removes its own. */
  add(handler: (change: PresenceChange) => void): () => void {
    const h = (c: PresenceChange): void => handler(c);
    this.handlers.add(h);
    return () => {
      this.handlers.delete(h);
    };
  }

  push(change: PresenceChange): void {
    if (this.closed || this.handlers.size === 0) return;
    this.queue.push(change);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.dispatch());
  }

  close(): void {
    this.closed = true;
    this.handlers.clear();
    this.queue = [];
  }

  private dispatch(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const c of batch) {
      for (const h of [...this.handlers]) {
        try {
          h(c);
        } catch (err) {
          this.onHandlerError(err);
        }
      }
    }
  }
}
