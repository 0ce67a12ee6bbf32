/**
 * Sends not acknowledged yet, in the order they were made. Each is keyed by its clientMsgId
 * (the idempotency key, constant across attempts) and remembers the frame ids of its attempts,
 * so a late `ack` or `error` for an earlier attempt still finds it. Pure bookkeeping: when to
 * write and retry is the client's job.
 */
import type { JsonValue } from '../protocol/mod.js';
import type { SendAck, Target } from './types.js';

export interface OutboxEntry {
  readonly clientMsgId: string;
  readonly to: Target;
  readonly body: JsonValue;
  readonly durability?: 'local' | 'replicated';
  /** When an attempt was first written to an open socket (the dedupe window runs from here). */
  firstWrittenAt: number | undefined;
  /** The conversation it goes to, known once written (a DM's id needs the client's user id). */
  conversation: string | undefined;
  attempts: number;
  /** Frame id of the attempt awaiting an answer; undefined while waiting to be (re)written. */
  inFlight: string | undefined;
  /** Timer of the current attempt's answer, or of a scheduled retry. */
  timer: unknown;
  readonly frameIds: string[];
  readonly promise: Promise<SendAck>;
  resolve(ack: SendAck): void;
  reject(err: Error): void;
}

export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  private readonly byFrame = new Map<string, OutboxEntry>();

  get size(): number {
    return this.entries.size;
  }

  get(clientMsgId: string): OutboxEntry | undefined {
    return this.entries.get(clientMsgId);
  }

  /** Add a send; a send with a clientMsgId already waiting joins it instead. */
  add(clientMsgId: string, to: Target, body: JsonValue, durability?: 'local' | 'replicated'): { entry: OutboxEntry; added: boolean } {
    const existing = this.entries.get(clientMsgId);
    if (existing) return { entry: existing, added: false };
    let resolve!: (ack: SendAck) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<SendAck>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: OutboxEntry = { clientMsgId, to, body, ...(durability === undefined ? {} : { durability }), firstWrittenAt: undefined, conversation: undefined, attempts: 0, inFlight: undefined, timer: undefined, frameIds: [], promise, resolve, reject };
    this.entries.set(clientMsgId, entry);
    return { entry, added: true };
  }

  /** Record an attempt written now under `frameId`. */
  attempt(entry: OutboxEntry, frameId: string, now: number): void {
    entry.inFlight = frameId;
    entry.attempts += 1;
    entry.firstWrittenAt ??= now;
    entry.frameIds.push(frameId);
    this.byFrame.set(frameId, entry);
  }

  /** The entry an answer with this `ref` belongs to (any of its attempts). */
  forFrame(ref: string): OutboxEntry | undefined {
    return this.byFrame.get(ref);
  }

  /** Remove an entry (acked or given up); its frame ids stop resolving. */
  remove(entry: OutboxEntry): void {
    if (this.entries.get(entry.clientMsgId) !== entry) return;
    this.entries.delete(entry.clientMsgId);
    for (const id of entry.frameIds) this.byFrame.delete(id);
  }

  /** Entries in the order they were added. */
  all(): OutboxEntry[] {
    return [...this.entries.values()];
  }

  /** True when resending now could be stored twice (outside the server's dedupe window). */
  static expired(entry: OutboxEntry, now: number, windowMs: number): boolean {
    return entry.firstWrittenAt !== undefined && now - entry.firstWrittenAt >= windowMs;
  }
}
