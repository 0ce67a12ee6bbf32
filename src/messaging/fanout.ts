/**
 * Live deliveries on one node: one bus subscription per user or room however many local sessions
 * want it, the same `Delivery` object handed to every handler (so the node frames it once), and
 * per-conversation order restored before anything reaches a handler.
 *
 * Why order needs restoring: the bus keeps order per publisher, but a conversation can be
 * appended by several nodes of its home region, or a message can be lost on a link (core NATS is
 * at-most-once). So each channel keeps the highest seq it delivered per conversation: a seq at or
 * below it is a duplicate and dropped; the next one is delivered; one beyond a gap is held for
 * `gapWaitMs`, then the gap is filled from the log and everything is delivered in order. Seqs
 * the log no longer has (erasure, retention) are skipped.
 */
import type { Bus, Headers, Subscription } from '../bus/types.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { SpanKind, TRACEPARENT, extractContext, startSpan, withSpan } from '../observability/tracing.js';
import { encodeMessage } from './frames.js';
import type { Delivery, StoredMessage } from './types.js';

type Handler = (d: Delivery) => void;
export type GapFill = (conversation: string, after: number, upTo: number) => Promise<readonly StoredMessage[]>;

const MAX_TRACKED = 1000;
/** Session writes traced per fan-out (the rest are counted on the fan-out span). */
const SESSION_SPANS = 8;
const dec = new TextDecoder();

interface Held {
  readonly buf: Map<number, Delivery & { kind: 'message' }>;
  timer: NodeJS.Timeout | null;
}

// One per user or room with local sessions, so it stays small: most users have one session and
// a few conversations (an idle connection's cost is dominated by this and presence).
class Channel {
  /** One handler as is (a user's channel nearly always has one session), a Set from the second. */
  handlers: Handler | Set<Handler> | undefined;
  #hwm: Map<string, number> | undefined;
  #held: Map<string, Held> | undefined;
  sub: Subscription | null = null;

  /** Highest seq delivered per conversation (made on the first delivery). */
  get hwm(): Map<string, number> {
    return (this.#hwm ??= new Map());
  }

  get held(): Map<string, Held> {
    return (this.#held ??= new Map());
  }

  add(h: Handler): void {
    const cur = this.handlers;
    if (cur === undefined) this.handlers = h;
    else if (typeof cur === 'function') {
      if (cur !== h) this.handlers = new Set([cur, h]);
    } else cur.add(h);
  }

  /** Remove a handler; true when none is left. */
  remove(h: Handler): boolean {
    const cur = this.handlers;
    if (cur === h) this.handlers = undefined;
    else if (cur instanceof Set) {
      cur.delete(h);
      if (cur.size === 1) this.handlers = cur.values().next().value!;
      else if (cur.size === 0) this.handlers = undefined;
    }
    return this.handlers === undefined;
  }

  get holding(): boolean {
    return this.#held !== undefined && this.#held.size > 0;
  }
}

export class Fanout {
  readonly #bus: Bus;
  readonly #fill: GapFill;
  readonly #gapWaitMs: number;
  readonly #channels = new Map<string, Channel>();
  readonly #metrics: NodeMetrics | undefined;
  #closed = false;

  readonly #onAdvance: ((conversation: string, seq: number) => void) | undefined;

  /** `onAdvance` hears each conversation's seq once per channel as it is delivered in order. */
  constructor(bus: Bus, fill: GapFill, gapWaitMs = 100, metrics?: NodeMetrics, onAdvance?: (conversation: string, seq: number) => void) {
    this.#bus = bus;
    this.#onAdvance = onAdvance;
    this.#fill = fill;
    this.#gapWaitMs = gapWaitMs;
    this.#metrics = metrics;
  }

  /** Handlers on a subject; the subscription is made for the first and ended with the last. */
  on(subject: string, handler: Handler): () => void {
    let ch = this.#channels.get(subject);
    if (!ch) {
      const created = new Channel();
      created.sub = this.#bus.subscribe(subject, (msg) => this.#receive(created, msg.data, msg.headers));
      this.#channels.set(subject, created);
      ch = created;
    }
    const channel = ch;
    channel.add(handler);
    return () => {
      if (channel.remove(handler) && this.#channels.get(subject) === channel) this.#drop(subject, channel);
    };
  }

  /** Subjects with a live subscription on this node. */
  get subjects(): number {
    return this.#channels.size;
  }

  close(): void {
    this.#closed = true;
    for (const [subject, ch] of this.#channels) this.#drop(subject, ch);
  }

  #drop(subject: string, ch: Channel): void {
    ch.sub?.unsubscribe();
    if (ch.holding) for (const h of ch.held.values()) if (h.timer) clearTimeout(h.timer);
    this.#channels.delete(subject);
  }

  #receive(ch: Channel, data: Uint8Array, headers: Headers): void {
    const frame = dec.decode(data);
    let parsed: { type?: unknown; conversation?: unknown; seq?: unknown; from?: unknown; timestamp?: unknown; region?: unknown };
    try {
      parsed = JSON.parse(frame) as typeof parsed;
    } catch {
      return; // not ours: only home nodes publish here, always valid JSON
    }
    if (typeof parsed.conversation !== 'string' || typeof parsed.seq !== 'number') return;
    if (parsed.type === 'receipt') {
      this.#emit(ch, { kind: 'receipt', conversation: parsed.conversation, seq: parsed.seq, frame });
      return;
    }
    if (parsed.type !== 'message' || typeof parsed.from !== 'string') return;
    this.#ordered(ch, {
      kind: 'message',
      conversation: parsed.conversation,
      seq: parsed.seq,
      from: parsed.from,
      frame,
      ...(typeof parsed.timestamp === 'number' ? { timestamp: parsed.timestamp } : {}),
      ...(typeof parsed.region === 'string' ? { region: parsed.region } : {}),
      // Only a sampled trace continues here: an unsampled one would make non-recording spans per
      // fan-out for nothing (parent-based sampling, the SDK's default, never records them).
      ...(sampled(headers[TRACEPARENT]) ? { traceparent: headers[TRACEPARENT]! } : {}),
    });
  }

  #ordered(ch: Channel, d: Delivery & { kind: 'message' }): void {
    const hwm = ch.hwm.get(d.conversation);
    if (hwm === undefined || d.seq === hwm + 1) {
      this.#advance(ch, d);
      this.#drain(ch, d.conversation);
      return;
    }
    if (d.seq <= hwm) return;
    let held = ch.held.get(d.conversation);
    if (!held) {
      held = { buf: new Map(), timer: null };
      ch.held.set(d.conversation, held);
    }
    held.buf.set(d.seq, d);
    this.#arm(ch, d.conversation, held);
  }

  /** Fill the hole below the held messages after `gapWaitMs` (on a timer: never in the same turn). */
  #arm(ch: Channel, conversation: string, held: Held): void {
    if (held.timer) return;
    held.timer = setTimeout(() => {
      void this.#fillGap(ch, conversation, held);
    }, this.#gapWaitMs);
    held.timer.unref();
  }

  async #fillGap(ch: Channel, conversation: string, held: Held): Promise<void> {
    const hwm = ch.hwm.get(conversation) ?? 0;
    const first = Math.min(...held.buf.keys());
    let filled: readonly StoredMessage[] = [];
    try {
      filled = await this.#fill(conversation, hwm, first - 1);
    } catch {
      // The home is unreachable: deliver what we have; the client's resume fills the rest.
    }
    held.timer = null;
    if (this.#closed || this.#channels.get(ch.sub?.subject ?? '') !== ch) return;
    for (const m of filled) {
      const cur = ch.hwm.get(conversation) ?? 0;
      if (m.seq > cur && m.seq < first) this.#advance(ch, { kind: 'message', conversation, seq: m.seq, from: m.from, frame: encodeMessage(m), timestamp: m.timestamp, region: m.region });
    }
    // Whatever is still missing below the first held seq is gone from the log: skip it.
    if ((ch.hwm.get(conversation) ?? 0) < first - 1) ch.hwm.set(conversation, first - 1);
    this.#drain(ch, conversation);
  }

  #drain(ch: Channel, conversation: string): void {
    if (!ch.holding) return;
    const held = ch.held.get(conversation);
    if (!held) return;
    for (;;) {
      const next = (ch.hwm.get(conversation) ?? 0) + 1;
      const d = held.buf.get(next);
      if (!d) break;
      held.buf.delete(next);
      this.#advance(ch, d);
    }
    for (const s of [...held.buf.keys()]) if (s <= (ch.hwm.get(conversation) ?? 0)) held.buf.delete(s);
    if (held.buf.size === 0) {
      if (held.timer) clearTimeout(held.timer);
      ch.held.delete(conversation);
    } else {
      // Another hole further on: without a timer those messages would wait for the next arrival.
      this.#arm(ch, conversation, held);
    }
  }

  #advance(ch: Channel, d: Delivery & { kind: 'message' }): void {
    ch.hwm.delete(d.conversation); // re-insert: the map's order is recency
    ch.hwm.set(d.conversation, d.seq);
    this.#onAdvance?.(d.conversation, d.seq);
    if (ch.hwm.size > MAX_TRACKED) {
      const oldest = ch.hwm.keys().next();
      if (!oldest.done && !(ch.holding && ch.held.has(oldest.value))) ch.hwm.delete(oldest.value);
    }
    this.#emit(ch, d);
  }

  #emit(ch: Channel, d: Delivery): void {
    const hs = ch.handlers;
    if (hs === undefined) return;
    if (d.kind === 'message') {
      this.#metrics?.delivered(d.region, d.timestamp, typeof hs === 'function' ? 1 : hs.size);
      if (d.traceparent !== undefined) return this.#traced(d, hs);
    }
    if (typeof hs === 'function') return call(hs, d);
    for (const h of hs) call(h, d);
  }

  /** Deliver under a fan-out span continuing the sender's trace; a span per session write only when recording. */
  #traced(d: Delivery & { kind: 'message' }, hs: Handler | Set<Handler>): void {
    const parent = extractContext({ [TRACEPARENT]: d.traceparent! });
    const span = startSpan('meridian.fanout', SpanKind.CONSUMER, parent, { 'meridian.region': this.#bus.region, 'meridian.sessions': typeof hs === 'function' ? 1 : hs.size });
    const recording = span.isRecording();
    const ctx = recording ? withSpan(parent, span) : parent;
    // A span per session write for the first few sessions only: a room of thousands would
    // otherwise make thousands of spans per message; the fan-out span carries the count.
    let budget = recording ? SESSION_SPANS : 0;
    const one = (h: Handler): void => {
      if (budget === 0) return call(h, d);
      budget--;
      const w = startSpan('meridian.session.write', SpanKind.INTERNAL, ctx);
      call(h, d);
      w.end();
    };
    if (typeof hs === 'function') one(hs);
    else for (const h of hs) one(h);
    span.end();
  }
}

/** A W3C traceparent whose flags have the sampled bit (…-01). */
function sampled(tp: string | undefined): boolean {
  return tp !== undefined && tp.length >= 2 && (parseInt(tp.slice(-2), 16) & 1) === 1;
}

function call(h: Handler, d: Delivery): void {
  try {
    h(d);
  } catch {
    // A failing session must not stop delivery to the others.
  }
}
