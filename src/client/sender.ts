/**
 * The sending half of the client: the outbox and when its entries are (re)written.
 *
 * A send is written at once unless something holds sends back (SendPacer: the in-flight cap, or
 * pacing after RATE_LIMITED), in which case `pump` writes the waiting ones in outbox order. An
 * attempt ends with its ack, an error, or a timeout; retryable ends lead to another attempt with
 * the same clientMsgId (the server dedupes), non-retryable ones reject. Attempts are written
 * only to an open connection; after a reconnect `connected()` writes everything still waiting.
 */
import { tryDmConversation } from '../protocol/mod.js';
import type { AckFrame, ErrorFrame, JsonValue, WelcomeFrame } from '../protocol/mod.js';
import type { Clock } from './clock.js';
import type { Connection } from './connection.js';
import { ClientClosedError, RequestFailedError, SendExpiredError } from './errors.js';
import { Outbox } from './outbox.js';
import type { OutboxEntry } from './outbox.js';
import { SendPacer } from './pacer.js';
import type { SendAck, Target } from './types.js';

export interface SenderOptions {
  readonly clock: Clock;
  readonly random: () => number;
  /** An attempt without an answer for this long is written again. */
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  /** The current connection, if any. */
  readonly connection: () => Connection | undefined;
  readonly nextId: (prefix: string) => string;
  /** The client's own send was stored with this seq. */
  readonly acked: (conversation: string, seq: number) => void;
  /** A send that was written to `conversation` ended without an ack (failed or given up). */
  readonly ended?: (conversation: string) => void;
}

export class Sender {
  private readonly outbox = new Outbox();
  private readonly pacer: SendPacer;
  /** Attempts written and not answered yet. */
  private inFlight = 0;
  private pumpTimer: unknown;
  private closed = false;
  /**
   * conversation → clientMsgIds of its sends written at least once and not ended: what an echo
   * arriving before its ack can belong to (see receiver.ts). A send never written cannot echo.
   */
  private readonly written = new Map<string, Set<string>>();
  /** Attempts after the first, for `client.stats`. */
  resends = 0;

  constructor(private readonly o: SenderOptions) {
    this.pacer = new SendPacer(o.maxInFlight);
  }

  get pending(): number {
    return this.outbox.size;
  }

  send(to: Target, body: JsonValue, clientMsgId: string, signal?: AbortSignal, durability?: 'local' | 'replicated'): Promise<SendAck> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const { entry, added } = this.outbox.add(clientMsgId, to, body, durability);
    if (added) {
      signal?.addEventListener('abort', () => this.giveUp(entry, abortReason(signal)), { once: true });
      this.kick(entry);
    }
    return entry.promise;
  }

  /** clientMsgIds of the sends to `conversation` written and not ended (no ack, no failure). */
  unsettled(conversation: string): Iterable<string> {
    return this.written.get(conversation) ?? [];
  }

  /** An `ack`; false when it answers no send of ours. */
  ack(frame: AckFrame): boolean {
    const e = this.outbox.forFrame(frame.ref);
    if (!e) return false;
    this.endAttempt(e);
    this.remove(e);
    this.o.acked(frame.conversation, frame.seq);
    const { messageId, conversation, seq, timestamp, duplicate, durability } = frame;
    e.resolve({ clientMsgId: e.clientMsgId, messageId, conversation, seq, timestamp, duplicate, ...(durability === undefined ? {} : { durability }) });
    this.pumpIfWaiting();
    return true;
  }

  /** An `error` frame; false when it answers no send of ours. */
  error(frame: ErrorFrame): boolean {
    const e = frame.ref === undefined ? undefined : this.outbox.forFrame(frame.ref);
    if (!e) return false;
    if (!frame.retryable) {
      this.giveUp(e, new RequestFailedError(frame));
      return true;
    }
    if (e.inFlight !== frame.ref) return true; // an earlier attempt's error; the current one is pending
    this.endAttempt(e);
    if (frame.name === 'RATE_LIMITED') {
      this.pacer.limited(this.o.clock.now(), frame.retryAfterMs);
      this.pump();
      return true;
    }
    const delay = frame.retryAfterMs ?? Math.floor(this.o.random() * Math.min(30_000, 250 * 2 ** Math.min(e.attempts, 10)));
    e.timer = this.o.clock.setTimeout(() => {
      e.timer = undefined;
      this.kick(e);
    }, delay);
    this.pumpIfWaiting();
    return true;
  }

  /** A connection is up (a fresh rate-limit bucket on the server): write what waits, in order. */
  connected(): void {
    this.pacer.reset();
    this.pump();
  }

  /** The connection dropped: every attempt in flight died with it. */
  dropped(): void {
    this.o.clock.clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    for (const e of this.outbox.all()) {
      this.o.clock.clearTimeout(e.timer);
      e.timer = undefined;
      e.inFlight = undefined;
    }
    this.inFlight = 0;
  }

  close(err: Error = new ClientClosedError()): void {
    this.closed = true;
    this.o.clock.clearTimeout(this.pumpTimer);
    for (const e of this.outbox.all()) this.giveUp(e, err);
  }

  /** Write one send now if nothing holds sends back, else let the pump order them. */
  private kick(e: OutboxEntry): void {
    const now = this.o.clock.now();
    if (!this.pacer.paced(now) && this.pacer.admit(now, this.inFlight) === 0) this.write(e);
    else this.pump();
  }

  /** Some sends wait (in-flight cap, pacing, retry timers): an answer may let one go. */
  private pumpIfWaiting(): void {
    if (this.outbox.size > this.inFlight) this.pump();
  }

  /** Write waiting sends in outbox order, as far as the pacer admits. */
  private pump(): void {
    if (this.closed || !this.o.connection()?.isOpen) return; // connected() pumps on the next one
    for (const e of this.outbox.all()) {
      if (e.inFlight !== undefined || e.timer !== undefined) continue;
      const wait = this.pacer.admit(this.o.clock.now(), this.inFlight);
      if (wait < 0) return; // the next answer pumps again
      if (wait > 0) {
        this.pumpTimer ??= this.o.clock.setTimeout(() => {
          this.pumpTimer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.write(e);
    }
  }

  private write(e: OutboxEntry): boolean {
    const conn = this.o.connection();
    if (this.closed || this.outbox.get(e.clientMsgId) !== e || e.inFlight !== undefined || e.timer !== undefined) return false;
    if (!conn?.isOpen) return false;
    const windowMs = conn.welcome.limits.dedupeWindowMs;
    const now = this.o.clock.now();
    if (Outbox.expired(e, now, windowMs)) {
      this.giveUp(e, new SendExpiredError(e.clientMsgId, windowMs));
      return false;
    }
    const id = this.o.nextId('s');
    if (!conn.write({ type: 'send', id, to: e.to, body: e.body, clientMsgId: e.clientMsgId, ...(e.durability === undefined ? {} : { durability: e.durability }) })) return false;
    if (e.attempts > 0) this.resends += 1;
    if (e.attempts === 0) this.track(e, conn.welcome);
    this.outbox.attempt(e, id, now);
    this.inFlight += 1;
    this.pacer.wrote(now);
    // No answer in time: it may or may not have been stored; the same clientMsgId makes a resend safe.
    e.timer = this.o.clock.setTimeout(() => {
      this.endAttempt(e);
      this.kick(e);
    }, this.o.timeoutMs);
    return true;
  }

  /** The current attempt of `e` is over (answered, timed out or given up). */
  private endAttempt(e: OutboxEntry): void {
    this.o.clock.clearTimeout(e.timer);
    e.timer = undefined;
    if (e.inFlight !== undefined) {
      e.inFlight = undefined;
      this.inFlight = Math.max(0, this.inFlight - 1);
    }
  }

  private giveUp(e: OutboxEntry, err: Error): void {
    if (this.outbox.get(e.clientMsgId) !== e) return;
    this.endAttempt(e);
    this.remove(e);
    e.reject(err);
    // Closing: nothing is delivered any more, so no held echo candidate needs releasing.
    if (e.conversation !== undefined && !this.closed) this.o.ended?.(e.conversation);
    this.pumpIfWaiting();
  }

  /** Index a send about to be written for the first time under its conversation. */
  private track(e: OutboxEntry, welcome: WelcomeFrame): void {
    if ('room' in e.to) e.conversation = `room:${e.to.room}`;
    else {
      // An id the server cannot make a conversation of is refused there: such a send has no echo.
      const dm = tryDmConversation(welcome.user, e.to.user, welcome.limits.maxIdLength);
      e.conversation = dm.ok ? dm.id : undefined;
    }
    if (e.conversation === undefined) return;
    let ids = this.written.get(e.conversation);
    if (!ids) this.written.set(e.conversation, (ids = new Set()));
    ids.add(e.clientMsgId);
  }

  private remove(e: OutboxEntry): void {
    this.outbox.remove(e);
    if (e.conversation === undefined) return;
    const ids = this.written.get(e.conversation);
    ids?.delete(e.clientMsgId);
    if (ids?.size === 0) this.written.delete(e.conversation);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('send aborted', { cause: signal.reason });
}
