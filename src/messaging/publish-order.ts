/**
 * The writer publishes each conversation's messages in seq order.
 *
 * Between its append and its publish a send may wait: the inbox index of a new direct
 * conversation (a compare-and-set in KV), a `replicated` copy, a replica too far behind. A later
 * send of the same conversation that waits for none of these would be published first, and the
 * nodes and clients that take the first seq they see of a conversation as its baseline (everything
 * before it is history: src/messaging/fanout.ts, src/client/cursor.ts) would then drop the earlier
 * one as already had: an acknowledged message never delivered live, and never offered again since
 * the recipient's delivery cursor passed it.
 *
 * So each seq appended here is registered synchronously as the append resolves (`begin`), and
 * its publish waits (`turn`) until every lower seq registered for the conversation was published
 * or given up (`done`). A seq whose send fails after its append must still be `done`. Waiting is
 * bounded by `maxWaitMs` so a missed `done` can only delay, never stall, a conversation.
 */

interface State {
  /** Seqs appended and not yet published or given up. */
  readonly inFlight: Set<number>;
  /** Publishes waiting for lower seqs: seq → release. */
  readonly waiting: Map<number, () => void>;
}

export class PublishOrder {
  readonly #convs = new Map<string, State>();

  constructor(
    private readonly maxWaitMs = 5000,
    /** A publish went without waiting longer for lower seqs (a missed `done`, or a send stuck that long). */
    private readonly onTimeout?: (conversation: string, seq: number, waitingFor: number[]) => void,
  ) {}

  /** `seq` of `conversation` was appended here (call synchronously as the append resolves). */
  begin(conversation: string, seq: number): void {
    let s = this.#convs.get(conversation);
    if (!s) {
      s = { inFlight: new Set(), waiting: new Map() };
      this.#convs.set(conversation, s);
    }
    s.inFlight.add(seq);
  }

  /** Resolves when no lower seq of `conversation` is still in flight here (or after `maxWaitMs`). */
  turn(conversation: string, seq: number): Promise<void> {
    const s = this.#convs.get(conversation);
    if (!s || !hasBelow(s.inFlight, seq)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.onTimeout?.(conversation, seq, [...s.inFlight].filter((x) => x < seq));
        release();
      }, this.maxWaitMs);
      timer.unref();
      function release(): void {
        clearTimeout(timer);
        s!.waiting.delete(seq);
        resolve();
      }
      s.waiting.set(seq, release);
    });
  }

  /** `seq` of `conversation` was published, or its send gave up: later seqs may go. */
  done(conversation: string, seq: number): void {
    const s = this.#convs.get(conversation);
    if (!s) return;
    s.inFlight.delete(seq);
    for (const [w, release] of s.waiting) if (!hasBelow(s.inFlight, w)) release();
    if (s.inFlight.size === 0 && s.waiting.size === 0) this.#convs.delete(conversation);
  }

  /** Conversations with seqs in flight (for tests). */
  get size(): number {
    return this.#convs.size;
  }
}

function hasBelow(set: ReadonlySet<number>, seq: number): boolean {
  for (const x of set) if (x < seq) return true;
  return false;
}
