/**
 * Cursor frames (`delivery_ack`, `read`) coalesced per conversation: a cursor covers every
 * lower seq, so within one batch only the highest seq of each conversation is worth sending,
 * and a seq at or below one already sent never is. The protocol asks for acks within 1 s.
 */
import type { Clock } from './clock.js';

/** Writes a batch; returns false when it could not (not connected): the batch is kept. */
export type BatchWriter = (cursors: ReadonlyArray<readonly [conversation: string, seq: number]>) => boolean;

export class CursorBatcher {
  private readonly dirty = new Map<string, number>();
  private readonly sent = new Map<string, number>();
  private timer: unknown;

  constructor(
    private readonly clock: Clock,
    private readonly delayMs: number,
    private readonly write: BatchWriter,
  ) {}

  /** Raise the cursor of `conversation` to `seq` (lower or equal values are ignored). */
  mark(conversation: string, seq: number): void {
    const known = Math.max(this.dirty.get(conversation) ?? 0, this.sent.get(conversation) ?? 0);
    if (seq <= known) return;
    this.dirty.set(conversation, seq);
    if (this.timer === undefined) this.timer = this.clock.setTimeout(() => this.flush(), this.delayMs);
  }

  /** Highest seq sent (or queued) for a conversation, 0 if none. */
  cursor(conversation: string): number {
    return Math.max(this.dirty.get(conversation) ?? 0, this.sent.get(conversation) ?? 0);
  }

  /** Cursors not written yet. */
  get pending(): number {
    return this.dirty.size;
  }

  /** Write what is pending now (also called on connect and before a clean close). */
  flush(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.dirty.size === 0) return;
    const batch = [...this.dirty];
    if (!this.write(batch)) return;
    for (const [c, s] of batch) this.sent.set(c, s);
    this.dirty.clear();
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
