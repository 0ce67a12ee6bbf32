/**
 * One conversation's receive position: dedupe by seq, in-order release, gap detection.
 *
 * `contiguous` is the highest seq such that every seq up to it was delivered (or skipped on
 * purpose after `recovered: false`): the delivery-ack cursor and the resume position. Messages
 * that arrive above a hole are held and released in seq order once the hole is filled, so the
 * application sees each conversation in seq order whatever the network did. A seq the client
 * already has is dropped, which is what makes the overlap of a migration and replays harmless.
 *
 * Seqs seen only through the client's own `ack` (its sends) count as present without anything
 * to deliver: the application already has those messages.
 *
 * A message offered as `undecided` (from the client's own user while sends of its own are
 * unacked: it may be the echo of one of them, which can arrive before its `ack`) is present but
 * not releasable: it and everything above it wait until `markOwn` says it was ours (dropped) or
 * `decide` says it was not (handed over in its place). Seq order is kept either way.
 */
import type { MessageFrame } from '../protocol/mod.js';

/** Held messages above a hole per conversation; beyond, they are dropped and fetched again. */
export const DEFAULT_MAX_HELD = 10_000;

export interface Offer {
  /** Messages now deliverable, in seq order (the offered one and any it unblocked). */
  readonly deliver: MessageFrame[];
  readonly duplicate: boolean;
}

export class ConversationCursor {
  /**
   * Undefined until the first message seen (then everything before it is history); own acks
   * before it are held, not a baseline.
   */
  private pos: number | undefined;
  /** seq → frame, or null for a seq present without a frame (own send). */
  private readonly held = new Map<number, MessageFrame | null>();
  /** Held seqs whose frame may be the echo of an own send: not released until decided. */
  private readonly undecided = new Set<number>();
  /** Set when held messages were dropped: the missing range then has no known end. */
  private overflowed = false;

  constructor(
    readonly conversation: string,
    position?: number,
    private readonly maxHeld = DEFAULT_MAX_HELD,
  ) {
    this.pos = position;
  }

  get position(): number | undefined {
    return this.pos;
  }

  /**
   * A message arrived (live or replayed). `undecided`: it may be the echo of an own send not
   * acked yet; it is held (see `isUndecided`) until `markOwn` or `decide`.
   */
  offer(frame: MessageFrame, undecided = false): Offer {
    return this.put(frame.seq, frame, undecided);
  }

  /** The client's own send was acked with `seq`. An undecided message there was its echo. */
  markOwn(seq: number): Offer {
    if (this.undecided.has(seq)) {
      this.undecided.delete(seq);
      this.held.set(seq, null);
      const deliver: MessageFrame[] = [];
      this.release(deliver);
      return { deliver, duplicate: false };
    }
    return this.put(seq, null, false);
  }

  /** The undecided message at `seq` was not an own send's echo: release it in order. */
  decide(seq: number): MessageFrame[] {
    const deliver: MessageFrame[] = [];
    if (this.undecided.delete(seq)) this.release(deliver);
    return deliver;
  }

  /** True while an undecided message holds the position back. */
  get blocked(): boolean {
    return this.pos !== undefined && this.undecided.has(this.pos + 1);
  }

  /** True while the message at `seq` is held waiting for `markOwn` or `decide`. */
  isUndecided(seq: number): boolean {
    return this.undecided.has(seq);
  }

  private put(seq: number, frame: MessageFrame | null, undecided: boolean): Offer {
    if (this.pos === undefined) {
      if (frame === null && this.held.size < this.maxHeld) {
        // An own ack first: it says nothing about the seqs before it. Messages of others sent
        // just before ours may still be on their way (the ack and the live copies travel
        // different paths): the first message seen sets the baseline, not our ack.
        if (this.held.has(seq)) return { deliver: [], duplicate: true };
        this.held.set(seq, null);
        return { deliver: [], duplicate: false };
      }
      // The first sighting: everything before it is history, own acks below it included.
      let first = seq;
      if (frame === null) for (const s of this.held.keys()) first = Math.min(first, s);
      for (const s of this.held.keys()) if (s < first) this.held.delete(s);
      this.pos = first - 1;
      if (this.held.has(seq)) {
        // The echo of an own send: a duplicate for the application, but it sets the position.
        const deliver: MessageFrame[] = [];
        this.release(deliver);
        return { deliver, duplicate: frame !== null };
      }
    }
    if (seq <= this.pos || this.held.has(seq)) return { deliver: [], duplicate: true };
    if (seq !== this.pos + 1 || (undecided && frame !== null)) {
      // An undecided message at the position + 1 is kept even when full: it is what unblocks the rest.
      if (this.held.size >= this.maxHeld && seq !== this.pos + 1) {
        this.overflowed = true;
        return { deliver: [], duplicate: false };
      }
      this.held.set(seq, frame);
      if (undecided && frame !== null) this.undecided.add(seq);
      return { deliver: [], duplicate: false };
    }
    this.pos = seq;
    const deliver = frame ? [frame] : [];
    this.release(deliver);
    return { deliver, duplicate: false };
  }

  /**
   * History before `seq` is gone (`recovered: false`, its `fromSeq`): move the position to
   * `seq - 1` if it is lower, releasing what that unblocks. Returns the released messages.
   */
  skipTo(seq: number): MessageFrame[] {
    const deliver: MessageFrame[] = [];
    if (this.pos === undefined || this.pos < seq - 1) {
      for (const s of this.held.keys()) {
        if (s >= seq) continue;
        this.held.delete(s);
        this.undecided.delete(s);
      }
      this.pos = seq - 1;
      this.release(deliver);
    }
    return deliver;
  }

  /** Set the position for a conversation first seen now (e.g. `joined.lastSeq`); no-op once known. */
  baseline(seq: number): void {
    if (this.pos !== undefined) return;
    // Only own acks can be held before a position: those up to `seq` are history, the next count.
    for (const s of this.held.keys()) if (s <= seq) this.held.delete(s);
    this.pos = seq;
    this.release([]);
  }

  /**
   * The hole to fetch: from the position + 1 to just below the lowest held seq, or open-ended
   * (`to` undefined) after held messages were dropped. Undefined when nothing is missing, and
   * while an undecided message blocks the position: holes above it are fetched once it is decided.
   */
  missing(): { from: number; to: number | undefined } | undefined {
    if (this.pos === undefined || this.held.has(this.pos + 1)) return undefined;
    if (this.held.size === 0) return this.overflowed ? { from: this.pos + 1, to: undefined } : undefined;
    let lowest = Infinity;
    for (const s of this.held.keys()) if (s < lowest) lowest = s;
    return { from: this.pos + 1, to: this.overflowed ? undefined : lowest - 1 };
  }

  /** A fetch read up to the log's end: dropped held messages, if any, were all in it. */
  caughtUp(): void {
    this.overflowed = false;
  }

  get heldCount(): number {
    return this.held.size;
  }

  private release(into: MessageFrame[]): void {
    for (;;) {
      const next = (this.pos ?? 0) + 1;
      if (!this.held.has(next) || this.undecided.has(next)) break;
      const f = this.held.get(next);
      this.held.delete(next);
      this.pos = next;
      if (f) into.push(f);
    }
  }
}
