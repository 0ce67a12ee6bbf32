/**
 * `BusMessaging`: the `Messaging` contract (types.ts) on any `Bus` and this region's
 * `MessageLog`. The same code runs embedded and on NATS; what differs is only the bus and the log
 * underneath.
 *
 * A send: resolve the conversation's home (homes.ts) → if it is this region, append to the local
 * log, index the inbox, publish the encoded frame once per recipient subject, answer; otherwise
 * forward the send to the home region over the bus (rpc.ts), where a node does exactly that.
 * The ack therefore always means "durable in the one log of the conversation", and the frame is
 * published by the home node right after the append, before the ack travels back, which keeps
 * the end-to-end delay one link for a recipient in the sender's or the home region.
 */
import type { Bus, BusMessage, Kv } from '../bus/types.js';
import { subjects } from '../bus/subjects.js';
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import type { MessageLog } from '../log/mod.js';
import { checkId, parseConversation, roomConversation, tryDmConversation } from '../protocol/mod.js';
import type { Conversation } from '../protocol/mod.js';
import type { Topology } from '../topology/mod.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { SpanKind, activeContext, extractContext, failSpan, injectHeaders, startSpan, traceFields, withSpan } from '../observability/tracing.js';
import type { Context } from '../observability/tracing.js';
import { Fanout } from './fanout.js';
import { REGION_HEADER, encodeMessage, encodeReceipt, messageIdOf, storedFromEntry } from './frames.js';
import { unavailable } from './errors.js';
import { Homes } from './homes.js';
import { CURSORS_BUCKET, HOMES_BUCKET, INBOX_BUCKET, keys } from './keys.js';
import type { CursorKind } from './keys.js';
import { decodeRpcReply, decodeRpcRequest, encodeRpc, errorReply } from './rpc.js';
import type { RpcRequest } from './rpc.js';
import type { Delivery, HistoryPage, Messaging, PendingConversation, SendInput, SendResult, StoredMessage } from './types.js';

export interface MessagingOptions {
  bus: Bus;
  /** This node's region (must be the bus's region). */
  region: string;
  topology: Topology;
  /** This region's log: it stores the conversations homed here. */
  log: MessageLog;
  /** Region homing the messaging KV buckets; every node passes the same. Default: the topology's first region. */
  bucketRegion?: string;
  /** How long a forwarded call to another region may take. Default 10 000 ms. */
  rpcTimeoutMs?: number;
  /** How long an out-of-order live delivery waits for the missing seqs before the log fills them. Default 100 ms. */
  gapWaitMs?: number;
  /** Most clientMsgId length accepted. Default 64. */
  maxClientMsgIdLength?: number;
  /** The node's metrics (sends, appends, deliveries); none: nothing is counted. */
  metrics?: NodeMetrics;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAX_INDEXED = 100_000;
const RPC_QUEUE = 'logrpc';
const PROBE_TIMEOUT_MS = 2000;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Send failures that are the client's doing (not counted against the SLO). */
const CLIENT_FAULTS: ReadonlySet<string> = new Set([ErrorCode.MsgInvalid, ErrorCode.MsgForbidden, ErrorCode.MsgBadSequence, ErrorCode.LogInvalidArgument, ErrorCode.LogInvalidConversation, ErrorCode.LogBodyTooLarge, ErrorCode.LogDuplicateGone]);

export class BusMessaging implements Messaging {
  readonly region: string;
  readonly #bus: Bus;
  readonly #log: MessageLog;
  readonly #regions: readonly string[];
  readonly #bucketRegion: string;
  readonly #rpcTimeoutMs: number;
  readonly #maxClientMsgId: number;
  readonly #homes: Homes;
  readonly #fanout: Fanout;
  readonly #buckets = new Map<string, Promise<Kv>>();
  readonly #indexed = new Set<string>();
  readonly #rpcSub;
  readonly #metrics: NodeMetrics | undefined;
  #closed = false;

  constructor(opts: MessagingOptions) {
    if (opts.bus.region !== opts.region) {
      throw new MeridianError(ErrorCode.InvalidArgument, `messaging for ${opts.region} was given the bus of ${opts.bus.region}`);
    }
    this.region = opts.region;
    this.#bus = opts.bus;
    this.#log = opts.log;
    this.#regions = opts.topology.regions.map((r) => r.name);
    this.#bucketRegion = opts.bucketRegion ?? this.#regions[0] ?? opts.region;
    this.#rpcTimeoutMs = opts.rpcTimeoutMs ?? 10_000;
    this.#maxClientMsgId = opts.maxClientMsgIdLength ?? 64;
    this.#metrics = opts.metrics;
    this.#homes = new Homes({ kv: () => this.#bucket(HOMES_BUCKET), probeLogs: (c) => this.#probeLogs(c) });
    this.#fanout = new Fanout(this.#bus, (c, after, upTo) => this.#fillGap(c, after, upTo), opts.gapWaitMs ?? 100, opts.metrics);
    this.#rpcSub = this.#bus.subscribe(subjects.logRpc(this.region), (m) => void this.#serve(m), { queue: RPC_QUEUE });
  }

  async send(input: SendInput): Promise<SendResult> {
    this.#open();
    // The trace of a send starts here (child of the caller's span when a context manager has one).
    const parent = activeContext();
    const span = startSpan('meridian.send', SpanKind.SERVER, parent, { 'meridian.region': this.region });
    const ctx = withSpan(parent, span);
    try {
      const conversation = this.#checkSend(input);
      const home = await this.#homes.resolve(conversation, this.region);
      if (span.isRecording()) span.setAttribute('meridian.home', home);
      const r = home === this.region ? await this.#store(input, conversation, this.region, ctx) : await this.#forward(home, input, ctx);
      this.#metrics?.sendDone(r.duplicate ? 'duplicate' : 'accepted');
      span.end();
      return r;
    } catch (err) {
      const clientFault = isMeridianError(err) && CLIENT_FAULTS.has(err.code);
      this.#metrics?.sendDone(clientFault ? 'rejected' : 'failed');
      if (!clientFault) this.#metrics?.sendFailed(isMeridianError(err) ? err.code : 'INTERNAL', traceFields(ctx));
      failSpan(span, err);
      throw err;
    }
  }

  async #forward(home: string, input: SendInput, parent: Context): Promise<SendResult> {
    const span = startSpan('meridian.forward', SpanKind.CLIENT, parent, { 'meridian.home': home });
    try {
      const r = await this.#call<SendResult>(home, { op: 'send', from: input.from, to: input.to, body: input.body, clientMsgId: input.clientMsgId, region: this.region }, this.#rpcTimeoutMs, withSpan(parent, span));
      span.end();
      return r;
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  }

  onUser(user: string, handler: (d: Delivery) => void): () => void {
    this.#open();
    return this.#fanout.on(subjects.user(user), handler);
  }

  onRoom(room: string, handler: (d: Delivery) => void): () => void {
    this.#open();
    return this.#fanout.on(subjects.room(room), handler);
  }

  async history(conversation: string, opts: { after?: number; limit?: number } = {}): Promise<HistoryPage> {
    this.#open();
    this.#parse(conversation);
    const after = opts.after ?? 0;
    const limit = opts.limit ?? 100;
    if (!Number.isInteger(after) || after < 0) throw invalid('after must be a whole number ≥ 0', 'after');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid('limit must be a whole number from 1 to 1000', 'limit');
    const home = await this.#homes.find(conversation);
    if (home === null) return { conversation, messages: [], lastSeq: 0, firstAvailable: 1 };
    if (home === this.region) return this.#localHistory(conversation, after, limit);
    return this.#call<HistoryPage>(home, { op: 'history', conversation, after, limit });
  }

  async lastSeq(conversation: string): Promise<number> {
    this.#open();
    this.#parse(conversation);
    const lasts = await this.#lasts([conversation]);
    return lasts.get(conversation) ?? 0;
  }

  ackDelivered(user: string, conversation: string, seq: number): Promise<void> {
    return this.#ack('delivered', user, conversation, seq);
  }

  ackRead(user: string, conversation: string, seq: number): Promise<void> {
    return this.#ack('read', user, conversation, seq);
  }

  async cursor(user: string, conversation: string): Promise<number> {
    this.#open();
    return this.#cursor(await this.#bucket(CURSORS_BUCKET), 'delivered', user, conversation);
  }

  async pending(user: string): Promise<PendingConversation[]> {
    this.#open();
    checkUser(user, 'user');
    const inbox = await this.#kvCall(INBOX_BUCKET, (kv) => kv.keys(keys.inboxOf(user)));
    const conversations = inbox.map((k) => keys.inboxConversation(k));
    if (conversations.length === 0) return [];
    const cursors = await this.#bucket(CURSORS_BUCKET);
    const [lasts, marks] = await Promise.all([this.#lasts(conversations), Promise.all(conversations.map((c) => this.#cursor(cursors, 'delivered', user, c)))]);
    const out: PendingConversation[] = [];
    conversations.forEach((conversation, i) => {
      const lastSeq = lasts.get(conversation) ?? 0;
      const cursor = marks[i] ?? 0;
      if (lastSeq > cursor) out.push({ conversation, cursor, lastSeq });
    });
    return out.sort((a, b) => (a.conversation < b.conversation ? -1 : a.conversation > b.conversation ? 1 : 0));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#rpcSub.unsubscribe();
      this.#fanout.close();
    }
    return Promise.resolve();
  }

  // ---- the home side ---------------------------------------------------------------------

  async #store(input: SendInput, conversation: string, acceptedIn: string, parent: Context): Promise<SendResult> {
    const id = messageIdOf(conversation, input.from, input.clientMsgId);
    const appendSpan = startSpan('meridian.log.append', SpanKind.INTERNAL, parent);
    const started = performance.now();
    let r: Awaited<ReturnType<MessageLog['append']>>;
    try {
      r = await this.#log.append(conversation, { id, from: input.from, body: input.body, headers: { [REGION_HEADER]: acceptedIn } });
    } catch (err) {
      failSpan(appendSpan, err);
      throw err;
    }
    this.#metrics?.appended((performance.now() - started) / 1000);
    if (appendSpan.isRecording()) appendSpan.setAttributes({ 'meridian.seq': r.seq, 'meridian.duplicate': r.duplicate });
    appendSpan.end();
    const to = input.to;
    // The inbox index comes before the ack (a retry, even a duplicate, completes it), so an acked
    // direct message is always found by the recipient's next connection.
    if ('user' in to) await this.#index(conversation, [input.from, to.user]);
    if (!r.duplicate) {
      const frame = encodeMessage({ conversation, seq: r.seq, messageId: r.id, from: input.from, to, body: input.body, timestamp: r.timestamp, region: acceptedIn });
      const data = enc.encode(frame);
      // The publish span's traceparent rides in the bus headers: each delivering node continues the trace.
      const pub = startSpan('meridian.publish', SpanKind.PRODUCER, parent);
      const headers = injectHeaders(withSpan(parent, pub));
      const opts = headers === undefined ? undefined : { headers };
      if ('room' in to) this.#bus.publish(subjects.room(to.room), data, opts);
      else {
        this.#bus.publish(subjects.user(to.user), data, opts);
        if (to.user !== input.from) this.#bus.publish(subjects.user(input.from), data, opts);
      }
      pub.end();
    }
    return { messageId: r.id, conversation, seq: r.seq, timestamp: r.timestamp, duplicate: r.duplicate, home: this.region };
  }

  async #localHistory(conversation: string, after: number, limit: number): Promise<HistoryPage> {
    const [entries, lastSeq, firstAvailable] = await Promise.all([this.#log.read(conversation, { after, limit }), this.#log.last(conversation), this.#log.firstAvailable(conversation)]);
    return { conversation, messages: entries.map(storedFromEntry), lastSeq, firstAvailable };
  }

  async #serve(msg: BusMessage): Promise<void> {
    if (!msg.reply) return;
    let reply: unknown;
    try {
      reply = { ok: await this.#dispatch(decodeRpcRequest(msg.data), msg.headers) };
    } catch (err) {
      reply = errorReply(err);
    }
    try {
      this.#bus.publish(msg.reply, encodeRpc(reply));
    } catch {
      // the caller is gone or the bus closed: it will time out and retry
    }
  }

  async #dispatch(req: RpcRequest, headers: BusMessage['headers']): Promise<unknown> {
    this.#open();
    switch (req.op) {
      case 'send': {
        const input: SendInput = { from: req.from, to: req.to, body: req.body as SendInput['body'], clientMsgId: req.clientMsgId };
        // The accepting region's forward span is the parent: one trace across both regions.
        const parent = extractContext(headers);
        const span = startSpan('meridian.home.send', SpanKind.SERVER, parent, { 'meridian.region': this.region, 'meridian.accepted_in': req.region });
        try {
          const conversation = this.#checkSend(input);
          const r = await this.#store(input, conversation, req.region, withSpan(parent, span));
          span.end();
          return r;
        } catch (err) {
          failSpan(span, err);
          throw err;
        }
      }
      case 'history':
        this.#parse(req.conversation);
        return this.#localHistory(req.conversation, req.after, Math.min(req.limit, 1000));
      case 'lasts':
        return this.#localLasts(req.conversations);
    }
  }

  // ---- cursors, receipts, inbox --------------------------------------------------------

  async #ack(kind: CursorKind, user: string, conversation: string, seq: number): Promise<void> {
    this.#open();
    checkUser(user, 'user');
    const c = this.#parse(conversation);
    if (c.kind === 'dm' && !c.users.includes(user)) throw new MeridianError(ErrorCode.MsgForbidden, `${user} is not a participant of ${conversation}`, { details: { conversation } });
    if (!Number.isInteger(seq) || seq < 0) throw invalid('seq must be a whole number ≥ 0', 'seq');
    const last = await this.lastSeq(conversation);
    if (seq > last) throw new MeridianError(ErrorCode.MsgBadSequence, `seq ${seq} is beyond the last seq ${last} of ${conversation}`, { details: { conversation, seq, last } });
    const kv = await this.#bucket(CURSORS_BUCKET);
    const previous = await this.#raise(kv, keys.cursor(kind, user, conversation), seq);
    if (previous >= seq) return;
    const frame = enc.encode(encodeReceipt(kind, conversation, user, seq, Date.now()));
    if (c.kind === 'dm') {
      const peer = c.users[0] === user ? c.users[1] : c.users[0];
      if (peer !== user) this.#bus.publish(subjects.user(peer), frame);
      return;
    }
    // Rooms: only the senders of the covered messages hear of it (at most the last 100 of them).
    const from = Math.max(previous, seq - 100);
    const page = await this.history(conversation, { after: from, limit: Math.max(1, seq - from) });
    const senders = new Set(page.messages.filter((m) => m.seq <= seq && m.from !== user).map((m) => m.from));
    for (const s of senders) this.#bus.publish(subjects.user(s), frame);
  }

  /** Raise a cursor key to `seq` (never lower it); returns the value it had. */
  async #raise(kv: Kv, key: string, seq: number): Promise<number> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const cur = await this.#kvOp(() => kv.get(key));
      const value = cur ? Number(dec.decode(cur.value)) || 0 : 0;
      if (value >= seq) return value;
      try {
        if (cur) await kv.update(key, enc.encode(String(seq)), cur.revision);
        else await kv.create(key, enc.encode(String(seq)));
        return value;
      } catch (err) {
        if (isMeridianError(err) && (err.code === ErrorCode.KvWrongRevision || err.code === ErrorCode.KvKeyExists)) continue;
        throw unavailable(err, 'messaging state');
      }
    }
    throw new MeridianError(ErrorCode.MsgUnavailable, `cursor ${key} is contended; try again`);
  }

  async #cursor(kv: Kv, kind: CursorKind, user: string, conversation: string): Promise<number> {
    const e = await this.#kvOp(() => kv.get(keys.cursor(kind, user, conversation)));
    return e ? Number(dec.decode(e.value)) || 0 : 0;
  }

  async #index(conversation: string, users: readonly string[]): Promise<void> {
    const todo = [...new Set(users)].map((u) => keys.inbox(u, conversation)).filter((k) => !this.#indexed.has(k));
    if (todo.length === 0) return;
    const kv = await this.#bucket(INBOX_BUCKET);
    await Promise.all(
      todo.map(async (k) => {
        try {
          await kv.create(k, new Uint8Array());
        } catch (err) {
          if (!(isMeridianError(err) && err.code === ErrorCode.KvKeyExists)) throw unavailable(err, 'messaging state');
        }
        if (this.#indexed.size >= MAX_INDEXED) this.#indexed.clear();
        this.#indexed.add(k);
      }),
    );
  }

  // ---- plumbing ------------------------------------------------------------------------

  /** Highest seq per conversation, asking each home region once for all of its conversations. */
  async #lasts(conversations: readonly string[]): Promise<Map<string, number>> {
    const byHome = new Map<string, string[]>();
    const out = new Map<string, number>();
    await Promise.all(
      conversations.map(async (c) => {
        const home = await this.#homes.find(c);
        if (home === null) return void out.set(c, 0);
        byHome.set(home, [...(byHome.get(home) ?? []), c]);
      }),
    );
    await Promise.all(
      [...byHome].map(async ([home, list]) => {
        const lasts = home === this.region ? await this.#localLasts(list) : await this.#call<Record<string, number>>(home, { op: 'lasts', conversations: list });
        for (const c of list) out.set(c, lasts[c] ?? 0);
      }),
    );
    return out;
  }

  async #localLasts(list: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    await Promise.all(list.map(async (c) => (out[c] = await this.#log.last(c))));
    return out;
  }

  async #probeLogs(conversation: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await Promise.all(
      this.#regions.map(async (region) => {
        try {
          const last = region === this.region ? await this.#log.last(conversation) : ((await this.#call<Record<string, number>>(region, { op: 'lasts', conversations: [conversation] }, PROBE_TIMEOUT_MS))[conversation] ?? 0);
          out.set(region, last);
        } catch {
          // unreachable regions are skipped (see homes.ts)
        }
      }),
    );
    return out;
  }

  async #fillGap(conversation: string, after: number, upTo: number): Promise<readonly StoredMessage[]> {
    if (upTo <= after) return [];
    const page = await this.history(conversation, { after, limit: Math.min(1000, upTo - after) });
    return page.messages.filter((m) => m.seq <= upTo);
  }

  async #call<T>(region: string, req: RpcRequest, timeoutMs = this.#rpcTimeoutMs, trace?: Context): Promise<T> {
    let reply: BusMessage;
    try {
      const headers = trace === undefined ? undefined : injectHeaders(trace);
      reply = await this.#bus.request(subjects.logRpc(region), encodeRpc(req), headers === undefined ? { timeoutMs } : { timeoutMs, headers });
    } catch (err) {
      if (isMeridianError(err) && err.code === ErrorCode.BusTimeout) {
        throw new MeridianError(ErrorCode.MsgTimeout, `region ${region} did not answer within ${timeoutMs} ms (the ${req.op} may have happened: retry is safe)`, { cause: err, details: { region } });
      }
      throw new MeridianError(ErrorCode.MsgUnavailable, `region ${region} cannot be reached: ${(err as Error).message}`, { cause: err, details: { region } });
    }
    return decodeRpcReply<T>(reply.data);
  }

  #bucket(name: string): Promise<Kv> {
    let p = this.#buckets.get(name);
    if (!p) {
      p = this.#bus.kv(name, { region: this.#bucketRegion });
      this.#buckets.set(name, p);
      // A bucket whose home is unreachable now may be reachable on the next call.
      p.catch(() => this.#buckets.delete(name));
    }
    return p.catch((err: unknown) => {
      throw unavailable(err, 'messaging state');
    });
  }

  async #kvCall<T>(bucket: string, fn: (kv: Kv) => Promise<T>): Promise<T> {
    const kv = await this.#bucket(bucket);
    return this.#kvOp(() => fn(kv));
  }

  async #kvOp<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw unavailable(err, 'messaging state');
    }
  }

  #checkSend(input: SendInput): string {
    checkUser(input.from, 'from');
    if (typeof input.clientMsgId !== 'string' || input.clientMsgId.length < 1 || input.clientMsgId.length > this.#maxClientMsgId || CONTROL.test(input.clientMsgId)) {
      throw invalid(`clientMsgId must be 1-${this.#maxClientMsgId} characters without control characters`, 'clientMsgId');
    }
    if (input.body === undefined) throw invalid('body is required', 'body');
    const to = input.to as { user?: unknown; room?: unknown } | undefined;
    if (to && typeof to.user === 'string') {
      const r = tryDmConversation(input.from, to.user);
      if (!r.ok) throw invalid(`to.user: ${r.reason}`, 'to.user');
      return r.id;
    }
    if (to && typeof to.room === 'string') {
      const c = checkId(to.room);
      if (!c.ok) throw invalid(`to.room ${c.reason}`, 'to.room');
      return roomConversation(to.room);
    }
    throw invalid('to must be { user } or { room }', 'to');
  }

  #parse(conversation: string): Conversation {
    const c = parseConversation(conversation);
    if (!c) throw invalid(`not a conversation id: ${JSON.stringify(conversation)}`, 'conversation');
    return c;
  }

  #open(): void {
    if (this.#closed) throw new MeridianError(ErrorCode.MsgClosed, 'messaging is closed');
  }
}

function checkUser(user: string, path: string): void {
  const c = checkId(user);
  if (!c.ok) throw invalid(`${path} ${c.reason}`, path);
}

function invalid(message: string, path: string): MeridianError {
  return new MeridianError(ErrorCode.MsgInvalid, message, { details: { path } });
}

/** Async so a later implementation may open buckets or streams before it answers. */
export function createMessaging(opts: MessagingOptions): Promise<Messaging> {
  return Promise.resolve(new BusMessaging(opts));
}
