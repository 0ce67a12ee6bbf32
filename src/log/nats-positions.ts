/**
 * Where recent entries of each conversation sit in the log stream: conversation seq → stream
 * sequence, learned from appends, copies and reads of this log instance.
 *
 * Why: a read must find where `after` falls in a stream shared by every conversation of the
 * region, which costs a binary search of `next_by_subj` lookups (about log2 of the stream's
 * length, a dozen or more JetStream API requests). A burst of resumes — every client of a lost
 * region arriving at once — multiplied that into tens of thousands of requests, queued on the
 * same connection as the survivors' appends. Most resumes start just past a recent entry, which
 * this cache knows.
 *
 * A cached position is always safe to start from: entries of one conversation are in seq order
 * in the stream, so everything at or below seq `s - 1` lies before the stream position of `s`.
 * If `s` was removed since (erasure, retention), the walk from its position finds the next entry
 * that is still there, which is what the read wants. Bounded: the newest `PER_CONVERSATION`
 * positions of at most `CONVERSATIONS` conversations (least recently used dropped first).
 */

const PER_CONVERSATION = 64;
const CONVERSATIONS = 20_000;

export class StreamPositions {
  readonly #byConversation = new Map<string, Map<number, number>>();

  /** Entry `seq` of `conversation` is at stream sequence `streamSeq`. */
  note(conversation: string, seq: number, streamSeq: number): void {
    let m = this.#byConversation.get(conversation);
    if (m) this.#byConversation.delete(conversation);
    else {
      m = new Map();
      if (this.#byConversation.size >= CONVERSATIONS) {
        const oldest = this.#byConversation.keys().next();
        if (!oldest.done) this.#byConversation.delete(oldest.value);
      }
    }
    this.#byConversation.set(conversation, m);
    m.delete(seq);
    m.set(seq, streamSeq);
    if (m.size > PER_CONVERSATION) {
      const oldest = m.keys().next();
      if (!oldest.done) m.delete(oldest.value);
    }
  }

  /** The stream sequence of entry `seq`, when known. */
  of(conversation: string, seq: number): number | undefined {
    return this.#byConversation.get(conversation)?.get(seq);
  }

  /** Forget a conversation (its entries were erased). */
  forget(conversation: string): void {
    this.#byConversation.delete(conversation);
  }
}
