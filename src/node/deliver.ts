/**
 * Writing to one connection: frames built once, a bounded outgoing buffer, and what happens when
 * a client does not keep up.
 *
 * Frame once: messaging hands the same `Delivery` object to every session on the node, so the
 * WebSocket frame (header + payload) is built once per delivery (memoized in a WeakMap) and the
 * same bytes are written to every socket; a room fan-out to 1,000 sessions costs 1,000 socket
 * writes, no JSON work. Bytes go straight to the upgraded TCP socket: with compression off `ws`
 * writes synchronously too, so frames from both paths keep their order.
 *
 * Writes are corked until the end of the event-loop turn (setImmediate), so the frames a turn
 * writes to one socket leave in one writev instead of one syscall each.
 *
 * Backpressure, by the socket's buffered bytes:
 * - live messages are refused above `softBytes` (the caller turns that into one `gap` per
 *   conversation); control frames (acks, errors, gap itself) still go out;
 * - replays wait below `softBytes` instead of dropping (they are paced by the client's reading);
 * - above `hardBytes`, or above `softBytes` for `stuckMs`, the connection is closed 4501
 *   SLOW_CONSUMER: memory never grows without bound.
 */
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket } from 'ws';
import type { Delivery } from '../messaging/types.js';
import type { OutboundLimits } from './options.js';

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
// ws exports its Sender (ESM wrapper and CommonJS alike); @types/ws does not describe it.
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, opts: FrameOptions): Buffer[] } }).Sender;
const TEXT: FrameOptions = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

/** One unmasked, final text frame carrying `text`, as one buffer. */
export function frameText(text: string): Buffer {
  const parts = Sender.frame(Buffer.from(text, 'utf8'), TEXT);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

const framedDeliveries = new WeakMap<Delivery, Buffer>();

/** The frame of a delivery, built on first use and shared by every session. */
export function framedDelivery(d: Delivery): Buffer {
  let b = framedDeliveries.get(d);
  if (b === undefined) {
    b = frameText(d.frame);
    framedDeliveries.set(d, b);
  }
  return b;
}

// Connections corked this turn, released together by one setImmediate (not one per socket: a
// room fan-out corks every member's socket in the same turn).
const corked: Outbound[] = [];
function uncorkAll(): void {
  for (const o of corked.splice(0)) o.uncork();
}

export type SlowReason = 'hard_limit' | 'stuck';

/** Told when the client does not keep up (a method, not a callback: no closure per connection). */
export interface SlowListener {
  slowConsumer(reason: SlowReason): void;
}

export class Outbound {
  #aboveSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  // Made on first use: an idle connection never waits, and never needs a 'drain' listener.
  #waiters: (() => void)[] | undefined;
  #wakeFn: (() => void) | undefined;
  /** One 'drain' listener at most, however many replays wait. */
  #drainArmed = false;
  #closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly limits: OutboundLimits,
    readonly owner: SlowListener,
  ) {}

  get buffered(): number {
    return this.socket.writableLength;
  }

  /** What the client has not taken yet: buffered bytes, less this turn's (still corked) writes. */
  get #backlog(): number {
    return this.socket.writableLength - this.#turnBytes;
  }

  get open(): boolean {
    return !this.#closed && this.ws.readyState === WebSocket.OPEN && !this.socket.destroyed;
  }

  /** A frame that must not be dropped (answers, errors, gap): written unless over the hard limit. */
  control(frame: Buffer): boolean {
    return this.#write(frame);
  }

  /** A live message: false (nothing written) when the client is behind. */
  live(frame: Buffer): boolean {
    if (!this.open) return false;
    if (this.#backlog > this.limits.softBytes) {
      this.#markAbove();
      return false;
    }
    return this.#write(frame);
  }

  /** Resolves when a replayed frame may be written without exceeding the soft limit (false: closed). */
  async room(): Promise<boolean> {
    while (this.open && this.#backlog > this.limits.softBytes) {
      this.#markAbove();
      await new Promise<void>((resolve) => {
        (this.#waiters ??= []).push(resolve);
        this.#armDrain();
      });
    }
    return this.open;
  }

  #armDrain(): void {
    if (this.#drainArmed) return;
    this.#drainArmed = true;
    this.socket.once('drain', (this.#wakeFn ??= () => this.#wake()));
  }

  #wake(): void {
    this.#drainArmed = false;
    this.#aboveSince = undefined;
    const w = this.#waiters;
    if (w === undefined) return;
    this.#waiters = undefined;
    for (const f of w) f();
  }

  #write(frame: Buffer): boolean {
    if (!this.open) return false;
    // Writes of one event-loop turn leave in one writev: a busy room sends many messages to the
    // same sockets per turn, and a syscall per frame per socket was most of the fan-out's cost.
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      if (corked.length === 0) setImmediate(uncorkAll);
      corked.push(this);
    }
    this.#turnBytes += frame.length;
    this.socket.write(frame);
    const n = this.socket.writableLength;
    if (n > this.limits.hardBytes) {
      this.owner.slowConsumer('hard_limit');
      return false;
    }
    if (n - this.#turnBytes > this.limits.softBytes) this.#markAbove();
    return true;
  }

  #corked = false;
  /** Bytes written this turn: corked in user space, not a sign of a slow client. */
  #turnBytes = 0;
  /** The end of the turn: release this connection's corked writes (called by `uncorkAll`). */
  uncork(): void {
    this.#corked = false;
    this.#turnBytes = 0;
    if (!this.socket.destroyed) this.socket.uncork();
  }

  #markAbove(): void {
    if (this.#aboveSince === undefined) {
      this.#aboveSince = performance.now();
      this.#armDrain();
    }
    if (this.#timer === undefined) this.#arm(this.limits.stuckMs);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.open || this.#aboveSince === undefined) return;
      if (this.#backlog <= this.limits.softBytes) {
        this.#aboveSince = undefined;
        return;
      }
      const waited = performance.now() - this.#aboveSince;
      if (waited >= this.limits.stuckMs) this.owner.slowConsumer('stuck');
      else this.#arm(this.limits.stuckMs - waited);
    }, ms);
    this.#timer.unref();
  }

  /** Stop timers and release replay waiters (they see `open === false`). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#drainArmed && this.#wakeFn) this.socket.off('drain', this.#wakeFn);
    this.#wake();
  }
}
