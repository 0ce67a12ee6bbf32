/**
 * One connection's conversation streams (src/node/stream.ts) and what they share: the socket
 * they write to and a bound on the history reads in flight. Made on the connection's first
 * stream: an idle connection has none.
 */
import type { StoredMessage } from '../../messaging/types.js';
import { encodeServerFrame } from '../../protocol/mod.js';
import type { ServerFrame } from '../../protocol/mod.js';
import type { NodeContext } from '../context.js';
import { frameText } from '../deliver.js';
import type { Outbound } from '../deliver.js';
import { ConversationStream } from '../stream.js';
import type { StreamHost } from '../stream.js';
import type { Streams } from './port.js';

/** History reads one connection may have in flight (resume of many conversations). */
const REPLAY_READS = 8;

/** What the streams need of their session. */
export interface StreamsOwner {
  readonly ctx: NodeContext;
  readonly out: Outbound;
  send(frame: ServerFrame): void;
}

export class SessionStreams implements Streams, StreamHost {
  readonly #owner: StreamsOwner;
  readonly #streams = new Map<string, ConversationStream>();
  /** Closed with the session: later streams are made closed (a late answer takes nothing). */
  #closed = false;
  /** History reads in flight, and those waiting for a slot. */
  #reading = 0;
  #readQueue: (() => void)[] | undefined;

  constructor(owner: StreamsOwner) {
    this.#owner = owner;
  }

  stream(conversation: string): ConversationStream {
    let s = this.#streams.get(conversation);
    if (!s) {
      s = new ConversationStream(conversation, this);
      if (this.#closed) s.close();
      else this.#streams.set(conversation, s);
    }
    return s;
  }

  get(conversation: string): ConversationStream | undefined {
    return this.#streams.get(conversation);
  }

  drop(conversation: string): void {
    this.#streams.get(conversation)?.close();
    this.#streams.delete(conversation);
  }

  /** The session stopped: every stream closes, and so does any made later. */
  close(): void {
    this.#closed = true;
    for (const s of this.#streams.values()) s.close();
    this.#streams.clear();
  }

  // --- StreamHost ----------------------------------------------------------------------------

  get out(): Outbound {
    return this.#owner.out;
  }

  get messaging(): NodeContext['messaging'] {
    return this.#owner.ctx.messaging;
  }

  get metrics(): NodeContext['metrics'] {
    return this.#owner.ctx.metrics;
  }

  get maxReplay(): number {
    return this.#owner.ctx.opts.limits.maxReplay;
  }

  get replayBuffer(): number {
    return this.#owner.ctx.opts.outbound.replayBuffer;
  }

  send(frame: ServerFrame): void {
    this.#owner.send(frame);
  }

  async replayMessage(m: StoredMessage): Promise<boolean> {
    const { out, ctx } = this.#owner;
    if (!(await out.room())) return false;
    ctx.metrics.framesOut.inc('message');
    return out.control(
      frameText(encodeServerFrame({ type: 'message', conversation: m.conversation, seq: m.seq, messageId: m.messageId, from: m.from, to: { ...m.to }, body: m.body, timestamp: m.timestamp, region: m.region, ...(m.event === undefined ? {} : { event: m.event }) })),
    );
  }

  async exclusive<T>(job: () => Promise<T>): Promise<T> {
    // A few reads at a time: a resume of 256 conversations in a far region must not take 256
    // round trips in a row, nor hold 256 pages of messages in memory at once.
    // A woken waiter inherits the slot of the read that finished.
    if (this.#reading >= REPLAY_READS) await new Promise<void>((resolve) => (this.#readQueue ??= []).push(resolve));
    else this.#reading++;
    try {
      return await job();
    } finally {
      const next = this.#readQueue?.shift();
      if (next) next();
      else this.#reading--;
    }
  }
}
