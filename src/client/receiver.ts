/**
 * The receiving half of the client: per-conversation cursors (dedupe, order, holes), filling
 * holes with `retransmit`, `resume` after a (re)connect, and delivery-ack cursors.
 *
 * How a hole is filled. A live message above the next expected seq means live delivery lost
 * something (it is at-most-once; the log is the truth): the hole is fetched at once. A hole
 * opened only by the client's own ack is given `gapGraceMs` first, because an ack and the
 * live copy of an earlier message travel different paths and the ack may simply be ahead.
 * One fetch per conversation at a time; each answer (`resumed`) says how far the replay goes,
 * and the fetch is over when the cursor reaches that seq (or retried when it does not in time).
 * `recovered: false` skips what the server no longer has and reports it as a `lost` range.
 *
 * The client's own sends are not handed back. Their echo may arrive before their `ack` (live,
 * or replayed by a resume after a reconnect), and a message from the client's own user may as
 * well come from another of its connections; the frame alone does not say which (its
 * `messageId` is the server's business, and browsers cannot hash synchronously anyway). So a
 * message from the own user, in a conversation with sends of this client written and not yet
 * ended, is held undecided: an `ack` with its seq makes it ours (dropped), and once every send
 * that was in flight when it arrived has ended otherwise (acked with another seq, or failed) it
 * is someone else's and released in order. Sends made later do not extend the wait.
 */
import type { ClientFrame, GapFrame, MessageFrame, ResumedFrame } from '../protocol/mod.js';
import { CursorBatcher } from './batcher.js';
import type { Clock } from './clock.js';
import { ConversationCursor } from './cursor.js';
import { ConnectionDroppedError, RequestFailedError } from './errors.js';
import type { Requests } from './requests.js';
import type { LostRange } from './types.js';

interface Fetch {
  /** The fetch is over when the cursor reaches this (Infinity until the answer tells). */
  until: number;
  /** The replay stopped short of what was asked (maxReplay): fetch on from `until + 1`. */
  more: boolean;
  /** The last seq asked for (undefined: up to the log's end). */
  readonly to: number | undefined;
  /** The first seq asked for: a fetch that ends with the position still below it brought nothing. */
  readonly from: number;
  timer: unknown;
}

export interface ReceiverOptions {
  readonly clock: Clock;
  readonly requests: Requests;
  /** Write cursor frames; false when not connected. */
  readonly write: (frame: ClientFrame) => boolean;
  readonly deliver: (message: MessageFrame) => void;
  readonly resumed: (frame: ResumedFrame) => void;
  readonly lost: (range: LostRange) => void;
  readonly error: (err: Error) => void;
  readonly autoAck: boolean;
  readonly ackDelayMs: number;
  readonly gapGraceMs: number;
  readonly refetchAfterMs: number;
  readonly positions?: Readonly<Record<string, number>> | undefined;
  /** The client's user id (its `welcome.user`), once known. */
  readonly user?: () => string | undefined;
  /**
   * Sends of this client to `conversation` that were written and have not ended (no ack and no
   * failure yet), by clientMsgId: a message from the own user there may be one's echo.
   */
  readonly unsettledSends?: (conversation: string) => Iterable<string>;
}

export class Receiver {
  private readonly cursors = new Map<string, ConversationCursor>();
  private readonly fetches = new Map<string, Fetch>();
  private readonly graceTimers = new Map<string, unknown>();
  /** Fetches in a row that got no replay, per conversation (the retry backoff). */
  private readonly retries = new Map<string, number>();
  /** conversation → undecided seq → clientMsgIds of the sends it may be the echo of. */
  private readonly undecided = new Map<string, Map<number, readonly string[]>>();
  readonly acks: CursorBatcher;
  readonly reads: CursorBatcher;
  /** Counters for `client.stats`. */
  readonly counts = { delivered: 0, duplicates: 0, retransmits: 0 };

  constructor(private readonly o: ReceiverOptions) {
    this.acks = new CursorBatcher(o.clock, Math.min(1000, o.ackDelayMs), (batch) => this.writeCursors('delivery_ack', batch));
    this.reads = new CursorBatcher(o.clock, 0, (batch) => this.writeCursors('read', batch));
    for (const [c, seq] of Object.entries(o.positions ?? {})) this.cursors.set(c, new ConversationCursor(c, seq));
  }

  /** Every conversation's position (the highest contiguous seq handed to the application). */
  positions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [c, cur] of this.cursors) if (cur.position !== undefined) out[c] = cur.position;
    return out;
  }

  position(conversation: string): number | undefined {
    return this.cursors.get(conversation)?.position;
  }

  message(frame: MessageFrame): void {
    const cur = this.cursor(frame.conversation);
    const candidates = this.echoCandidates(frame);
    const r = cur.offer(frame, candidates.length > 0);
    if (r.duplicate) {
      this.counts.duplicates += 1;
      return;
    }
    if (candidates.length > 0 && cur.isUndecided(frame.seq)) {
      let waiting = this.undecided.get(frame.conversation);
      if (!waiting) this.undecided.set(frame.conversation, (waiting = new Map<number, readonly string[]>()));
      waiting.set(frame.seq, candidates);
    }
    this.release(cur, r.deliver);
    this.progress(frame.conversation, false);
  }

  /** Own send acked: that seq is present (the application has the message). */
  ownAck(conversation: string, seq: number): void {
    const cur = this.cursor(conversation);
    const echoSeen = cur.isUndecided(seq);
    const r = cur.markOwn(seq);
    if (echoSeen) this.counts.duplicates += 1;
    if (!r.duplicate) this.release(cur, r.deliver);
    // This send is no longer a candidate for the other undecided messages.
    this.settle(conversation);
    // A hole above an echo claimed now was opened by messages, not by this ack: no grace.
    if (!r.duplicate) this.progress(conversation, !echoSeen);
  }

  /** A send to `conversation` ended without an ack (it failed or was given up). */
  ownSendEnded(conversation: string): void {
    this.settle(conversation);
  }

  /**
   * A room was joined. Never seen: history before `lastSeq` is not this client's business.
   * Seen before (a position from `options.positions` or an earlier join): fetch what it missed,
   * unless a resume that covers it follows (`catchUp: false`, after a reconnect).
   */
  joined(conversation: string, lastSeq: number, catchUp: boolean): void {
    const cur = this.cursor(conversation);
    const pos = cur.position;
    if (pos === undefined) cur.baseline(lastSeq);
    else if (catchUp && pos < lastSeq) this.fetch(conversation, pos + 1, lastSeq);
  }

  gap(frame: GapFrame): void {
    const cur = this.cursor(frame.conversation);
    cur.baseline(frame.fromSeq - 1);
    this.endFetch(frame.conversation);
    this.fetch(frame.conversation, (cur.position ?? 0) + 1, frame.toSeq);
  }

  resumed(frame: ResumedFrame): void {
    this.retries.delete(frame.conversation);
    const cur = this.cursor(frame.conversation);
    if (!frame.recovered) {
      const before = cur.position ?? 0;
      this.release(cur, cur.skipTo(frame.fromSeq));
      if (before < frame.fromSeq - 1) this.o.lost({ conversation: frame.conversation, fromSeq: before + 1, toSeq: frame.fromSeq - 1, reason: frame.reason ?? 'history_gone' });
    }
    if (frame.toSeq >= frame.lastSeq) cur.caughtUp();
    this.o.resumed(frame);
    const f = this.fetches.get(frame.conversation);
    if (f) {
      f.until = frame.toSeq;
      f.more = frame.toSeq < Math.min(f.to ?? Infinity, frame.lastSeq);
      this.o.clock.clearTimeout(f.timer);
      f.timer = this.o.clock.setTimeout(() => this.stalled(frame.conversation, f), this.o.refetchAfterMs);
    }
    this.progress(frame.conversation, false);
  }

  /**
   * After a (re)connect: resume every known conversation `include` accepts, at most `perFrame`
   * per `resume` frame. Fetches of the previous connection are void. Resolves when every
   * `resume` frame was answered (or failed); never rejects.
   */
  resumeAll(include: (conversation: string) => boolean, perFrame: number): Promise<void> {
    const convs = [...this.cursors.values()].filter((c) => c.position !== undefined && include(c.conversation));
    const answered: Promise<unknown>[] = [];
    for (let i = 0; i < convs.length; i += perFrame) {
      const chunk = convs.slice(i, i + perFrame);
      const positions: Record<string, number> = {};
      const mine = new Map<string, Fetch>();
      for (const c of chunk) {
        positions[c.conversation] = c.position ?? 0;
        const f: Fetch = { until: Infinity, more: false, to: undefined, from: (c.position ?? 0) + 1, timer: undefined };
        this.endFetch(c.conversation);
        this.fetches.set(c.conversation, f);
        mine.set(c.conversation, f);
      }
      // Each conversation is answered on its own, `resumed` or an error naming it
      // (`path: positions.<conversation>`): one refused conversation does not hold up the others.
      const req = this.o.requests.request({ once: true, answers: chunk.length, errorsAnswer: true, frame: (id) => ({ type: 'resume', id, positions }) });
      answered.push(req.catch(() => undefined));
      req.then(
        (frames) => {
          const refused = new Map<string, RequestFailedError>();
          let unattributed: RequestFailedError | undefined;
          for (const frame of frames) {
            if (frame.type !== 'error') continue;
            const err = new RequestFailedError(frame);
            const conv = frame.path?.startsWith('positions.') === true ? frame.path.slice('positions.'.length) : undefined;
            if (conv !== undefined && mine.has(conv)) refused.set(conv, err);
            else unattributed = err;
            this.report(err);
          }
          for (const [conv, f] of mine) {
            if (this.fetches.get(conv) !== f || f.until !== Infinity) continue;
            this.endFetch(conv);
            this.fetchFailed(conv, undefined, refused.get(conv) ?? unattributed);
          }
        },
        (err: unknown) => {
          for (const [conv, f] of mine) {
            if (this.fetches.get(conv) !== f || f.until !== Infinity) continue;
            this.endFetch(conv);
            this.fetchFailed(conv, undefined, err);
          }
          this.report(err);
        },
      );
    }
    return Promise.all(answered).then(() => undefined);
  }

  /** The connection dropped: in-flight fetches died with it (resumeAll redoes them). */
  disconnected(): void {
    for (const conv of [...this.fetches.keys()]) this.endFetch(conv);
    for (const t of this.graceTimers.values()) this.o.clock.clearTimeout(t);
    this.graceTimers.clear();
  }

  /** Manual delivery ack (with `autoAck: false`). */
  ack(conversation: string, seq: number): void {
    this.acks.mark(conversation, seq);
  }

  read(conversation: string, seq: number): void {
    this.reads.mark(conversation, seq);
  }

  stop(): void {
    this.disconnected();
    this.acks.stop();
    this.reads.stop();
  }

  /** The sends `frame` may be the echo of: none unless it is from the own user. */
  private echoCandidates(frame: MessageFrame): string[] {
    if (frame.event !== undefined || this.o.unsettledSends === undefined) return [];
    const user = this.o.user?.();
    if (user === undefined || frame.from !== user) return [];
    return [...this.o.unsettledSends(frame.conversation)];
  }

  /**
   * Release the undecided messages of `conversation` whose candidate sends have all ended
   * without claiming them: they are another connection's (or a failed send's, see the docs).
   */
  private settle(conversation: string): void {
    const waiting = this.undecided.get(conversation);
    if (!waiting) return;
    const cur = this.cursor(conversation);
    const unsettled = new Set(this.o.unsettledSends?.(conversation) ?? []);
    const deliver: MessageFrame[] = [];
    for (const [seq, candidates] of waiting) {
      if (!cur.isUndecided(seq)) {
        waiting.delete(seq); // claimed by an ack, or skipped as history
        continue;
      }
      if (candidates.some((id) => unsettled.has(id))) continue;
      waiting.delete(seq);
      deliver.push(...cur.decide(seq));
    }
    if (waiting.size === 0) this.undecided.delete(conversation);
    if (deliver.length === 0) return;
    this.release(cur, deliver);
    this.progress(conversation, false);
  }

  private cursor(conversation: string): ConversationCursor {
    let cur = this.cursors.get(conversation);
    if (!cur) {
      cur = new ConversationCursor(conversation);
      this.cursors.set(conversation, cur);
    }
    return cur;
  }

  /**
   * Hand messages over and raise the delivery cursor. Only when something was handed over:
   * a cursor moved by the client's own sends alone would tell the other side "delivered" for
   * messages it wrote itself, and would hide them from the user's other devices' inbox.
   */
  private release(cur: ConversationCursor, messages: readonly MessageFrame[]): void {
    if (messages.length === 0) return;
    this.counts.delivered += messages.length;
    for (const m of messages) this.o.deliver(m);
    if (this.o.autoAck && cur.position !== undefined) this.acks.mark(cur.conversation, cur.position);
  }

  private progress(conversation: string, grace: boolean): void {
    const cur = this.cursor(conversation);
    const pos = cur.position ?? 0;
    const f = this.fetches.get(conversation);
    // A fetch that ended without moving the position (the server has nothing there yet): the
    // next one waits `refetchAfterMs`, so a hole the log cannot fill is never asked for in a loop.
    let fruitless = false;
    if (f) {
      if (pos < f.until) return;
      this.endFetch(conversation);
      fruitless = pos < f.from;
      if (f.more && !fruitless) {
        this.fetch(conversation, pos + 1, f.to);
        return;
      }
    }
    const miss = cur.missing();
    if (!miss) return;
    if (!grace && !fruitless) {
      this.fetch(conversation, miss.from, miss.to);
      return;
    }
    if (this.graceTimers.has(conversation)) return;
    this.graceTimers.set(
      conversation,
      this.o.clock.setTimeout(() => {
        this.graceTimers.delete(conversation);
        this.progress(conversation, false);
      }, fruitless ? this.o.refetchAfterMs : this.o.gapGraceMs),
    );
  }

  private fetch(conversation: string, fromSeq: number, toSeq: number | undefined): void {
    if (this.fetches.has(conversation)) return;
    const t = this.graceTimers.get(conversation);
    if (t !== undefined) {
      this.o.clock.clearTimeout(t);
      this.graceTimers.delete(conversation);
    }
    const f: Fetch = { until: Infinity, more: false, to: toSeq, from: fromSeq, timer: undefined };
    this.fetches.set(conversation, f);
    this.counts.retransmits += 1;
    const frame = (id: string): ClientFrame => (toSeq === undefined ? { type: 'retransmit', id, conversation, fromSeq } : { type: 'retransmit', id, conversation, fromSeq, toSeq });
    this.o.requests.request({ once: true, frame }).then(
      () => this.retries.delete(conversation),
      (err: unknown) => {
        if (this.fetches.get(conversation) !== f) return;
        this.endFetch(conversation);
        this.fetchFailed(conversation, toSeq, err);
        this.report(err);
      },
    );
  }

  /**
   * A fetch (resume or retransmit) of `conversation` got no replay. Transient (the store or the
   * conversation's home is unavailable, a failover under way, no answer in time): fetch again
   * after a backoff that starts short and grows to `refetchAfterMs`, so a conversation whose home
   * was lost resumes soon after it is taken over. Refused for good: skip the range and report it.
   * A dropped connection is the next resume's business.
   */
  private fetchFailed(conversation: string, toSeq: number | undefined, err: unknown): void {
    if (err instanceof ConnectionDroppedError) return;
    if (err === undefined || (err instanceof RequestFailedError && err.retryable) || !(err instanceof RequestFailedError)) {
      const attempt = this.retries.get(conversation) ?? 0;
      this.retries.set(conversation, attempt + 1);
      const hinted = err instanceof RequestFailedError ? (err.retryAfterMs ?? 0) : 0;
      const delayMs = Math.min(this.o.refetchAfterMs, Math.max(hinted, 250 * 2 ** attempt));
      this.o.clock.setTimeout(() => {
        if (!this.fetches.has(conversation)) this.fetch(conversation, (this.cursor(conversation).position ?? 0) + 1, toSeq);
      }, delayMs);
      return;
    }
    if (err.wireName === 'BAD_SEQUENCE' && toSeq === undefined && this.cursor(conversation).heldCount === 0) {
      // Our position is beyond the conversation's end: the log we knew is gone (a wiped
      // deployment). Forget the position; the next message starts the conversation afresh.
      this.cursors.delete(conversation);
      this.undecided.delete(conversation);
      return;
    }
    // The server will not return this range (FORBIDDEN, BAD_SEQUENCE…): holding messages
    // behind it forever helps no one. Skip it, say so, and go on.
    const cur = this.cursor(conversation);
    const before = cur.position ?? 0;
    const upTo = toSeq ?? cur.missing()?.to ?? before;
    if (upTo > before) {
      this.release(cur, cur.skipTo(upTo + 1));
      this.o.lost({ conversation, fromSeq: before + 1, toSeq: upTo, reason: err.wireName });
    }
    cur.caughtUp();
  }

  /** A fetch answered but the replay did not reach its end in time: ask again from where it stopped. */
  private stalled(conversation: string, f: Fetch): void {
    if (this.fetches.get(conversation) !== f) return;
    const cur = this.cursor(conversation);
    const pos = cur.position ?? 0;
    this.fetches.delete(conversation);
    // Stopped at an undecided message (an echo waiting for its ack) is not a stalled replay:
    // asking again would bring what is held; what is still missing is fetched once it is decided.
    if (pos < f.until && !cur.blocked) this.fetch(conversation, pos + 1, f.more ? f.to : f.until);
    else this.progress(conversation, false);
  }

  private endFetch(conversation: string): void {
    const f = this.fetches.get(conversation);
    if (!f) return;
    this.o.clock.clearTimeout(f.timer);
    this.fetches.delete(conversation);
  }

  private writeCursors(type: 'delivery_ack' | 'read', batch: ReadonlyArray<readonly [string, number]>): boolean {
    for (const [conversation, seq] of batch) if (!this.o.write({ type, conversation, seq })) return false;
    return true;
  }

  private report(err: unknown): void {
    // A fetch that died with its connection is redone by the next resume: not an error.
    if (err instanceof ConnectionDroppedError) return;
    this.o.error(err instanceof Error ? err : new Error(String(err)));
  }
}
