/**
 * `BusMessaging`: the `Messaging` contract (types.ts) on any `Bus` and this region's
 * `MessageLog`. The same code runs embedded and on NATS; what differs is only the bus and the log
 * underneath.
 *
 * A send: the conversation's home is computed locally (src/placement: no directory, no round
 * trip) → if it is this region, append to the local log, index the inbox, publish the encoded
 * frame once per recipient subject, answer; otherwise forward the send to the home region over
 * the bus (rpc.ts), where a node does exactly that. The ack therefore always means "durable in
 * the one log of the conversation", and the frame is published by the home node right after the
 * append, before the ack travels back, which keeps the end-to-end delay one link for a recipient
 * in the sender's or the home region.
 *
 * Everything else a conversation keeps (inbox index, cursors) lives at its home too
 * (home-state.ts): cursor acks, cursor reads and the offline inbox are answered there, in one
 * round trip. A direct-message receipt does not wait for it: when this region has already seen
 * the acked seq go by, it publishes the receipt at once (one link delay to the peer) and raises
 * the cursor at the home in the background of the same call.
 */
import type { Bus, BusMessage, PublishOptions } from '../bus/types.js';
import { subjects } from '../bus/subjects.js';
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import type { AppendResult, LogEntry, MessageLog } from '../log/mod.js';
import { checkId, parseConversation, roomConversation, tryDmConversation } from '../protocol/mod.js';
import type { Conversation } from '../protocol/mod.js';
import type { Topology } from '../topology/mod.js';
import type { NodeMetrics } from '../observability/metrics.js';
import { SpanKind, activeContext, extractContext, failSpan, injectHeaders, startSpan, traceFields, withSpan } from '../observability/tracing.js';
import type { Context } from '../observability/tracing.js';
import { Fanout } from './fanout.js';
import { EPOCH_HEADER, EVENT_HEADER, REGION_HEADER, SYSTEM_SENDER, encodeMessage, encodeReceipt, messageIdOf, storedFromEntry } from './frames.js';
import { HomeState } from './home-state.js';
import { Replicator } from './replication.js';
import { fittingPrefix } from './fit.js';
import { globMatch } from '../protocol/glob.js';
import type { CursorKind } from './keys.js';
import { ConversationPlacement } from '../placement/mod.js';
import { Failover } from '../failover/mod.js';
import { PublishOrder } from './publish-order.js';
import type { Ownership } from '../failover/mod.js';
import { decodeRpcReply, decodeRpcRequest, encodeRpc, errorReply } from './rpc.js';
import type { RpcRequest } from './rpc.js';
import type { Delivery, Durability, HistoryPage, Messaging, PendingConversation, SendInput, SendResult, StoredMessage } from './types.js';

export interface MessagingOptions {
  bus: Bus;
  /** This node's region (must be the bus's region). */
  region: string;
  topology: Topology;
  /** This region's log: it stores the conversations homed here. */
  log: MessageLog;
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
/** Conversations whose highest seen seq this node remembers (receipts without a round trip). */
const MAX_KNOWN = 100_000;
const RPC_QUEUE = 'logrpc';
const PROBE_TIMEOUT_MS = 2000;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Send failures that are the client's doing (not counted against the SLO). */
const CLIENT_FAULTS: ReadonlySet<string> = new Set([ErrorCode.MsgInvalid, ErrorCode.MsgForbidden, ErrorCode.MsgBadSequence, ErrorCode.LogInvalidArgument, ErrorCode.LogInvalidConversation, ErrorCode.LogBodyTooLarge, ErrorCode.LogDuplicateGone, ErrorCode.MsgDurabilityNotAllowed, ErrorCode.ResidencyForbidden, ErrorCode.ResidencyConflict]);

export class BusMessaging implements Messaging {
  readonly region: string;
  readonly #bus: Bus;
  readonly #log: MessageLog;
  readonly #regions: readonly string[];
  readonly #rpcTimeoutMs: number;
  readonly #maxClientMsgId: number;
  readonly #placement: ConversationPlacement;
  readonly #state: HomeState;
  readonly #replicator: Replicator;
  /** Each conversation's appends published in seq order (src/messaging/publish-order.ts). */
  readonly #order: PublishOrder;
  /** Who owns each conversation now (home, or its replica after a failover); none without replicas. */
  readonly #failover: Failover | undefined;
  readonly #replication: Topology['replication'];
  readonly #fanout: Fanout;
  /** Highest seq this node has seen per conversation (sends, live deliveries), most recent last. */
  readonly #known = new Map<string, number>();
  /** Conversations whose epoch (after a failover) has begun in this region's log. */
  readonly #epochBegun = new Set<string>();
  /** Highest receipt this node announced per cursor key, so one ack is announced once. */
  readonly #announced = new Map<string, number>();
  readonly #rpcSub;
  readonly #metrics: NodeMetrics | undefined;
  /** A strict residency rule allows this region: its nodes also listen on region subjects. */
  readonly #strictHere: boolean;
  #closed = false;

  constructor(opts: MessagingOptions) {
    if (opts.bus.region !== opts.region) {
      throw new MeridianError(ErrorCode.InvalidArgument, `messaging for ${opts.region} was given the bus of ${opts.bus.region}`);
    }
    this.region = opts.region;
    this.#bus = opts.bus;
    this.#log = opts.log;
    this.#regions = opts.topology.regions.map((r) => r.name);
    this.#rpcTimeoutMs = opts.rpcTimeoutMs ?? 10_000;
    this.#maxClientMsgId = opts.maxClientMsgIdLength ?? 64;
    this.#metrics = opts.metrics;
    this.#placement = new ConversationPlacement(opts.topology);
    this.#strictHere = this.#placement.residency.servesStrict(this.region);
    this.#state = new HomeState(this.#bus);
    this.#replication = opts.topology.replication;
    const replicated = this.#replication.replicas > 0 && this.#regions.length > 1;
    this.#failover = replicated
      ? new Failover({
          bus: this.#bus,
          placement: this.#placement,
          failoverAfterMs: this.#replication.failoverAfterMs,
          onError: (err) => opts.metrics?.log.debug({ event: 'failover_error', err: String(err) }, 'failover round failed'),
          onTakeover: (home, owner, role) => {
            opts.metrics?.log.warn({ event: 'failover', home, owner, role }, `conversations homed in ${home} now written by ${owner}`);
            opts.metrics?.failoverTakeover(home, owner);
            if (role === 'fenced') void this.#reportAside(owner);
          },
        })
      : undefined;
    this.#order = new PublishOrder(5000, (conversation, seq, waitingFor) =>
      opts.metrics?.log.warn({ event: 'publish_order_timeout', conversation, seq, waitingFor }, `${conversation}: seq ${seq} published after 5 s without seqs ${waitingFor.join(', ')} appended before it`),
    );
    this.#replicator = new Replicator({
      log: this.#log,
      replicasOf: (c) => this.#ownerOf(c).next,
      region: this.region,
      call: (region, req, timeoutMs) => this.#call(region, req, timeoutMs),
      maxPayload: this.#bus.maxPayload,
      metrics: opts.metrics,
      // With the trace ids of the send whose copy failed (a retry's failure has none).
      onError: (err, conversation, replica, trace) => opts.metrics?.log.warn({ event: 'replication_behind', conversation, replica, err: String(err), ...trace }, 'copy to the replica region failed; retrying'),
    });
    this.#fanout = new Fanout(this.#bus, (c, after, upTo) => this.#fillGap(c, after, upTo), opts.gapWaitMs ?? 100, opts.metrics, (c, seq) => this.#saw(c, seq));
    this.#rpcSub = this.#bus.subscribe(subjects.logRpc(this.region), (m) => void this.#serve(m), { queue: RPC_QUEUE });
  }

  /** Start answering failover probes and claims and take the first lease. */
  async start(): Promise<void> {
    await this.#failover?.start();
  }

  /** Known takeovers (src/failover), for /stats and tests. */
  takeovers(): readonly { home: string; owner: string; epoch: number }[] {
    return this.#failover?.records() ?? [];
  }

  async send(input: SendInput): Promise<SendResult> {
    this.#open();
    // The trace of a send starts here (child of the caller's span when a context manager has one).
    const parent = activeContext();
    const span = startSpan('meridian.send', SpanKind.SERVER, parent, { 'meridian.region': this.region });
    const ctx = withSpan(parent, span);
    // The durability label of the outcome: what the ack says, else what the send asked for or would get.
    let durability: Durability = input.durability === 'local' || input.durability === 'replicated' ? input.durability : this.#replication.durability;
    try {
      const conversation = this.#checkSend(input);
      this.#placement.residency.checkServe(conversation, this.region);
      durability = chooseDurability(this.#replication, this.#ownerOf(conversation).next.length, conversation, input.durability);
      const home = this.#ownerOf(conversation).owner;
      if (span.isRecording()) span.setAttribute('meridian.home', home);
      const r = home === this.region ? await this.#store(input, conversation, this.region, ctx) : await this.#forward(home, input, ctx);
      this.#saw(conversation, r.seq);
      this.#metrics?.sendDone(r.duplicate ? 'duplicate' : 'accepted', r.durability);
      span.end();
      return r;
    } catch (err) {
      const clientFault = isMeridianError(err) && CLIENT_FAULTS.has(err.code);
      this.#metrics?.sendDone(clientFault ? 'rejected' : 'failed', durability);
      if (!clientFault) this.#metrics?.sendFailed(isMeridianError(err) ? err.code : 'INTERNAL', traceFields(ctx));
      failSpan(span, err);
      throw err;
    }
  }

  async #forward(home: string, input: SendInput, parent: Context): Promise<SendResult> {
    const span = startSpan('meridian.forward', SpanKind.CLIENT, parent, { 'meridian.home': home });
    try {
      const req: RpcRequest = { op: 'send', from: input.from, to: input.to, body: input.body, clientMsgId: input.clientMsgId, region: this.region, ...(input.durability === undefined ? {} : { durability: input.durability }) };
      const r = await this.#call<SendResult>(home, req, this.#rpcTimeoutMs, withSpan(parent, span));
      span.end();
      return r;
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  }

  onUser(user: string, handler: (d: Delivery) => void): () => void {
    this.#open();
    return this.#both(subjects.user(user), subjects.userIn(this.region, user), handler);
  }

  onRoom(room: string, handler: (d: Delivery) => void): () => void {
    this.#open();
    return this.#both(subjects.room(room), subjects.roomIn(this.region, room), handler);
  }

  /** The subject everyone gets, and this region's own when a strict residency rule allows it (#publishTo). */
  #both(everywhere: string, here: string, handler: (d: Delivery) => void): () => void {
    const a = this.#fanout.on(everywhere, handler);
    if (!this.#strictHere) return a;
    const b = this.#fanout.on(here, handler);
    return () => {
      a();
      b();
    };
  }

  async history(conversation: string, opts: { after?: number; limit?: number } = {}): Promise<HistoryPage> {
    this.#open();
    this.#served(conversation);
    const after = opts.after ?? 0;
    const limit = opts.limit ?? 100;
    if (!Number.isInteger(after) || after < 0) throw invalid('after must be a whole number ≥ 0', 'after');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid('limit must be a whole number from 1 to 1000', 'limit');
    const home = this.#ownerOf(conversation).owner;
    if (home === this.region) return this.#localHistory(conversation, after, limit);
    return this.#call<HistoryPage>(home, { op: 'history', conversation, after, limit });
  }

  async lastSeq(conversation: string): Promise<number> {
    this.#open();
    this.#served(conversation);
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
    checkUser(user, 'user');
    this.#served(conversation);
    const home = this.#ownerOf(conversation).owner;
    if (home === this.region) return this.#state.cursor('delivered', user, conversation);
    return this.#call<number>(home, { op: 'cursor', user, conversation });
  }

  /**
   * Every region answers for the conversations it homes, in parallel, each from its own buckets
   * and log. A region that does not answer within a short timeout is left out: its conversations
   * are unavailable until it is back, and the next connection lists them.
   */
  async pending(user: string): Promise<PendingConversation[]> {
    this.#open();
    checkUser(user, 'user');
    const parts = await Promise.all(
      this.#regions.map(async (region) => {
        if (region === this.region) return this.#localPending(user, this.region);
        try {
          return await this.#call<PendingConversation[]>(region, { op: 'pending', user, region: this.region }, PROBE_TIMEOUT_MS);
        } catch {
          return [];
        }
      }),
    );
    return parts.flat().sort((a, b) => (a.conversation < b.conversation ? -1 : a.conversation > b.conversation ? 1 : 0));
  }

  /** The user's conversations owned here with something undelivered; strict ones only for a region they allow. */
  async #localPending(user: string, forRegion: string): Promise<PendingConversation[]> {
    const conversations = (await this.#state.inbox(user)).filter((c) => this.#ownsHere(c) && this.#mayRelay(c, forRegion));
    if (conversations.length === 0) return [];
    const [lasts, marks] = await Promise.all([this.#localLasts(conversations), Promise.all(conversations.map((c) => this.#state.cursor('delivered', user, c)))]);
    const out: PendingConversation[] = [];
    conversations.forEach((conversation, i) => {
      const lastSeq = lasts[conversation] ?? 0;
      const cursor = marks[i] ?? 0;
      if (lastSeq > cursor) out.push({ conversation, cursor, lastSeq });
    });
    return out;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#rpcSub.unsubscribe();
      this.#fanout.close();
      this.#replicator.close();
      this.#failover?.close();
    }
    return Promise.resolve();
  }

  // ---- the home side ---------------------------------------------------------------------

  async #store(input: SendInput, conversation: string, acceptedIn: string, parent: Context): Promise<SendResult> {
    const id = messageIdOf(conversation, input.from, input.clientMsgId);
    const publishStored = (r: AppendResult): void =>
      this.#publishToParticipants(conversation, enc.encode(encodeMessage({ conversation, seq: r.seq, messageId: r.id, from: input.from, to: input.to, body: input.body, timestamp: r.timestamp, region: acceptedIn })));
    const { r, own, headers } = await this.#appendAsOwner(conversation, { id, from: input.from, body: input.body, headers: { [REGION_HEADER]: acceptedIn } }, parent, publishStored);
    try {
      return await this.#storeAppended(input, conversation, acceptedIn, parent, r, own, headers);
    } finally {
      if (!r.duplicate) this.#order.done(conversation, r.seq);
    }
  }

  /** The rest of a send once appended: index, copy, publish (in seq order), answer. */
  async #storeAppended(input: SendInput, conversation: string, acceptedIn: string, parent: Context, r: AppendResult, own: Ownership, headers: Record<string, string>): Promise<SendResult> {
    const to = input.to;
    // The inbox index comes before the ack (a retry, even a duplicate, completes it), so an acked
    // direct message is always found by the recipient's next connection.
    if ('user' in to) await this.#state.index(conversation, [input.from, to.user]);
    const durability = chooseDurability(this.#replication, own.next.length, conversation, input.durability);
    const entry = r.duplicate ? undefined : { conversation, seq: r.seq, id: r.id, from: input.from, timestamp: r.timestamp, body: input.body, headers };
    if (durability === 'replicated') {
      // Acked (and delivered) only once the replica holds it: an acked message survives the home.
      try {
        await this.#replicator.replicate(conversation, r.seq, entry);
      } catch (err) {
        throw new MeridianError(ErrorCode.MsgUnavailable, `${conversation} seq ${r.seq} is stored in ${this.region} but its replica cannot be reached (retry with the same clientMsgId)`, { cause: err, details: { conversation, seq: r.seq, replicas: own.next } });
      }
    } else if (own.next.length > 0 && r.seq - this.#replicator.copiedUpTo(conversation) > this.#replication.maxUnreplicated) {
      // Too far ahead of the replica: this ack waits for the copy (bounds what a failover can lose).
      try {
        await this.#replicator.replicate(conversation, r.seq, entry);
      } catch (err) {
        throw new MeridianError(ErrorCode.MsgUnavailable, `${conversation} seq ${r.seq} is stored in ${this.region}, but more than ${this.#replication.maxUnreplicated} of its messages are not at the replica yet (retry with the same clientMsgId)`, { cause: err, details: { conversation, seq: r.seq, replicas: own.next } });
      }
    } else if (!r.duplicate) this.#replicator.replicateLater(conversation, r.seq, entry, traceFields(parent));
    // A retry publishes again: its first attempt may have stored the message and failed before
    // publishing (a copy that could not be made). Nodes and clients drop a seq they already have.
    const original = r.duplicate ? (await this.#log.read(conversation, { after: r.seq - 1, limit: 1 }).catch(() => []))[0] : undefined;
    if (!r.duplicate || (original !== undefined && original.seq === r.seq && !(original.body instanceof Uint8Array))) {
      const body = original === undefined ? input.body : (original.body as SendInput['body']);
      const region = original?.headers[REGION_HEADER] ?? acceptedIn;
      const frame = encodeMessage({ conversation, seq: r.seq, messageId: r.id, from: original?.from ?? input.from, to, body, timestamp: r.timestamp, region });
      const data = enc.encode(frame);
      // After every earlier seq appended here: an earlier send may still be indexing or copying.
      if (!r.duplicate) await this.#order.turn(conversation, r.seq);
      // The publish span's traceparent rides in the bus headers: each delivering node continues the trace.
      const pub = startSpan('meridian.publish', SpanKind.PRODUCER, parent);
      const traceHeaders = injectHeaders(withSpan(parent, pub));
      this.#publishToParticipants(conversation, data, traceHeaders === undefined ? undefined : { headers: traceHeaders });
      pub.end();
    }
    return { messageId: r.id, conversation, seq: r.seq, timestamp: r.timestamp, duplicate: r.duplicate, home: this.region, durability };
  }

  /**
   * Append as the conversation's writer: only the owner, and a home only under its lease (src/failover):
   * never two writers. Entries of a later epoch carry it and start past what the old home could
   * have handed out. A lease that ran out during the append: stored, but the caller gets MSG_FENCED
   * (no ack; the retry finds the owner).
   */
  async #appendAsOwner(
    conversation: string,
    input: { id: string; from: string; body: LogEntry['body']; headers: Record<string, string> },
    parent: Context,
    /** Publish an entry stored while the lease ran out, before the refusal (see below). */
    publishStored?: (r: AppendResult) => void,
  ): Promise<{ r: AppendResult; own: Ownership; headers: Record<string, string> }> {
    const own = this.#failover ? await this.#failover.mayWrite(conversation) : this.#ownerOf(conversation);
    const headers = own.epoch > 1 ? { ...input.headers, [EPOCH_HEADER]: String(own.epoch) } : input.headers;
    const appendSpan = startSpan('meridian.log.append', SpanKind.INTERNAL, parent);
    const started = performance.now();
    let r: AppendResult;
    try {
      const minSeq = own.epoch > 1 ? await this.#epochStart(conversation, own.epoch) : 0;
      r = await this.#log.append(conversation, { id: input.id, from: input.from, body: input.body, headers, ...(minSeq > 0 ? { minSeq } : {}) });
    } catch (err) {
      failSpan(appendSpan, err);
      throw err;
    }
    // Registered as the append resolves, before anything else can run: publishes go in seq order.
    if (!r.duplicate) this.#order.begin(conversation, r.seq);
    this.#metrics?.appended((performance.now() - started) / 1000);
    try {
      this.#failover?.checkWrite(conversation);
    } catch (err) {
      if (!r.duplicate) {
        // The lease ran out during the append but no other region took the conversation over:
        // the entry is in the owner's log at its seq, and the sender's retry will be answered
        // with it (a duplicate). Publish it now, in order: left for the retry, it would reach
        // nodes and clients after later seqs, and one that saw this conversation first at a
        // later seq would drop it as history. Taken over: the entry is aside, never published.
        if (publishStored !== undefined && this.#ownerOf(conversation).owner === this.region) {
          await this.#order.turn(conversation, r.seq);
          publishStored(r);
        }
        this.#order.done(conversation, r.seq);
      }
      throw err;
    }
    if (appendSpan.isRecording()) appendSpan.setAttributes({ 'meridian.seq': r.seq, 'meridian.duplicate': r.duplicate });
    appendSpan.end();
    return { r, own, headers };
  }

  /** Publish a message frame to every participant: the room, or each user of a direct conversation once. */
  #publishToParticipants(conversation: string, data: Uint8Array, opts?: PublishOptions): void {
    const c = this.#parse(conversation);
    if (c.kind === 'room') this.#publishTo('room', c.room, conversation, data, opts);
    else for (const u of new Set(c.users)) this.#publishTo('user', u, conversation, data, opts);
  }

  /**
   * Publish a frame of `conversation` to a user or room. A strict-residency conversation's frames
   * go only to the regions its rules allow (their nodes subscribe to region subjects as well), so
   * no node elsewhere ever receives them; every other frame goes to the user or room wherever.
   */
  #publishTo(kind: 'user' | 'room', id: string, conversation: string, data: Uint8Array, opts?: PublishOptions): void {
    const scope = this.#placement.residency.scopeOf(conversation);
    if (scope.mode === 'strict' && scope.regions !== undefined) {
      for (const r of scope.regions) this.#bus.publish(kind === 'user' ? subjects.userIn(r, id) : subjects.roomIn(r, id), data, opts);
    } else this.#bus.publish(kind === 'user' ? subjects.user(id) : subjects.room(id), data, opts);
  }

  /** Whether this region writes `conversation` now; false for one the rules no longer let be stored anywhere (a rule changed since it was indexed). */
  #ownsHere(conversation: string): boolean {
    try {
      return this.#ownerOf(conversation).owner === this.region;
    } catch {
      return false;
    }
  }

  /** Whether `region` may see anything of `conversation` (always, unless strict residency excludes it). */
  #mayRelay(conversation: string, region: string): boolean {
    try {
      this.#placement.residency.checkServe(conversation, region);
      return true;
    } catch {
      return false;
    }
  }

  /** Parse a conversation a client reached through this region: RESIDENCY_FORBIDDEN when strict residency keeps it elsewhere. */
  #served(conversation: string): Conversation {
    const c = this.#parse(conversation);
    this.#placement.residency.checkServe(conversation, this.region);
    return c;
  }

  async #localHistory(conversation: string, after: number, limit: number): Promise<HistoryPage> {
    const [entries, lastSeq, firstAvailable] = await Promise.all([this.#log.read(conversation, { after, limit }), this.#log.last(conversation), this.#log.firstAvailable(conversation)]);
    // Taken over: until this owner writes, the old home's last `local` acks may lie past lastSeq.
    const reserved = this.#ownerOf(conversation).epoch > 1 ? { reservedUpTo: lastSeq + this.#replication.maxUnreplicated } : {};
    return { conversation, messages: entries.map(storedFromEntry), lastSeq, firstAvailable, ...reserved };
  }

  /**
   * A page forwarded over the bus must fit one bus message: keep the longest prefix that does
   * (at least one message). The caller sees fewer than it asked for and pages on from the last
   * seq it got, as with any page.
   */
  #fitReply(page: HistoryPage): HistoryPage {
    const messages = fittingPrefix(page.messages, this.#bus.maxPayload);
    return messages.length === page.messages.length ? page : { ...page, messages };
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
        const input: SendInput = { from: req.from, to: req.to, body: req.body as SendInput['body'], clientMsgId: req.clientMsgId, ...(req.durability === undefined ? {} : { durability: req.durability }) };
        // The accepting region's forward span is the parent: one trace across both regions.
        const parent = extractContext(headers);
        const span = startSpan('meridian.home.send', SpanKind.SERVER, parent, { 'meridian.region': this.region, 'meridian.accepted_in': req.region });
        try {
          const conversation = this.#checkSend(input);
          // The sender's region may not know of a failover yet: pass it on to the owner, once.
          const owner = this.#ownerOf(conversation).owner;
          const r =
            owner !== this.region && req.forwarded !== true
              ? await this.#call<SendResult>(owner, { ...req, forwarded: true }, this.#rpcTimeoutMs, withSpan(parent, span))
              : await this.#store(input, conversation, req.region, withSpan(parent, span));
          span.end();
          return r;
        } catch (err) {
          failSpan(span, err);
          throw err;
        }
      }
      case 'history': {
        this.#parse(req.conversation);
        return this.#fitReply(await this.#localHistory(req.conversation, req.after, Math.min(req.limit, 1000)));
      }
      case 'lasts':
        return this.#localLasts(req.conversations);
      case 'ack':
        return this.#homeAck(req.kind, req.user, req.conversation, req.seq, req.announced);
      case 'cursor':
        this.#parse(req.conversation);
        return this.#state.cursor('delivered', req.user, req.conversation);
      case 'pending':
        return this.#localPending(req.user, req.region ?? this.region);
      case 'aside':
        this.#parse(req.conversation);
        // The old home's report span is the parent: its failover_aside line and ours share a trace.
        return this.#storeAsideEvent(req.conversation, req.region, req.fromSeq, req.toSeq, extractContext(headers));
      case 'replicate': {
        const c = this.#parse(req.conversation);
        // Copies come only from the conversation's owner: a fenced old home is refused.
        this.#failover?.checkCopyFrom(req.conversation, req.from);
        if (req.entries.length === 0) return { last: await this.#log.last(req.conversation) };
        // The inbox index travels with the copy, so the offline inbox survives a failover.
        if (c.kind === 'dm') await this.#state.index(req.conversation, c.users);
        // Stored or already held, every entry is in the log now: the last one's seq is a lower bound of last().
        // An entry that began an epoch (a failover) may skip ahead, as the owner's append did; so
        // may the first of a page the home read after our last, when the seqs between are gone
        // there (retention, erasure): no entry will ever come for them.
        const first = req.entries[0]!;
        const skipTo = req.after !== undefined && first.seq > req.after + 1 && (await this.#log.last(req.conversation)) === req.after ? first.seq : undefined;
        await this.#log.storeMany(
          req.entries.map((e) => ({ ...e, conversation: req.conversation })),
          { allowGap: (e) => e.headers[EPOCH_HEADER] !== undefined || e.seq === skipTo },
        );
        return { last: req.entries[req.entries.length - 1]!.seq };
      }
    }
  }

  // ---- cursors, receipts, inbox --------------------------------------------------------

  async #ack(kind: CursorKind, user: string, conversation: string, seq: number): Promise<void> {
    this.#open();
    checkUser(user, 'user');
    const c = this.#served(conversation);
    if (c.kind === 'dm' && !c.users.includes(user)) throw new MeridianError(ErrorCode.MsgForbidden, `${user} is not a participant of ${conversation}`, { details: { conversation } });
    if (!Number.isInteger(seq) || seq < 0) throw invalid('seq must be a whole number ≥ 0', 'seq');
    const home = this.#ownerOf(conversation).owner;
    if (home === this.region) {
      const announced = c.kind === 'dm' && seq <= (this.#known.get(conversation) ?? 0) && this.#announce(kind, user, conversation, seq);
      return void (await this.#homeAck(kind, user, conversation, seq, announced));
    }
    // A direct message's receipt goes out now when this node has seen that seq exist: the peer
    // hears it one link delay later, whatever the home's distance. The home checks and stores.
    const announced = c.kind === 'dm' && seq <= (this.#known.get(conversation) ?? 0) && this.#announce(kind, user, conversation, seq);
    await this.#call<number>(home, { op: 'ack', kind, user, conversation, seq, announced });
  }

  /** At the home: check the seq against the log, raise the cursor, announce the receipt unless done. */
  async #homeAck(kind: CursorKind, user: string, conversation: string, seq: number, announced: boolean): Promise<number> {
    const c = this.#parse(conversation);
    if (c.kind === 'dm' && !c.users.includes(user)) throw new MeridianError(ErrorCode.MsgForbidden, `${user} is not a participant of ${conversation}`, { details: { conversation } });
    const last = await this.#log.last(conversation);
    if (seq > last) throw new MeridianError(ErrorCode.MsgBadSequence, `seq ${seq} is beyond the last seq ${last} of ${conversation}`, { details: { conversation, seq, last } });
    const previous = await this.#state.raise(kind, user, conversation, seq);
    if (previous >= seq || announced) return previous;
    if (c.kind === 'dm') {
      this.#announce(kind, user, conversation, seq);
      return previous;
    }
    // Rooms: only the senders of the covered messages hear of it (at most the last 100 of them).
    const from = Math.max(previous, seq - 100);
    const page = await this.#localHistory(conversation, from, Math.max(1, seq - from));
    const senders = new Set(page.messages.filter((m) => m.seq <= seq && m.from !== user).map((m) => m.from));
    const frame = enc.encode(encodeReceipt(kind, conversation, user, seq, Date.now()));
    for (const s of senders) this.#publishTo('user', s, conversation, frame);
    return previous;
  }

  /** Publish a direct conversation's receipt to the peer, once per raise seen here; false when already announced. */
  #announce(kind: CursorKind, user: string, conversation: string, seq: number): boolean {
    const key = `${kind}\0${user}\0${conversation}`;
    if ((this.#announced.get(key) ?? 0) >= seq) return false;
    remember(this.#announced, key, seq);
    const c = this.#parse(conversation);
    if (c.kind !== 'dm') return false;
    const peer = c.users[0] === user ? c.users[1] : c.users[0];
    if (peer !== user) this.#publishTo('user', peer, conversation, enc.encode(encodeReceipt(kind, conversation, user, seq, Date.now())));
    return true;
  }

  /** This node saw `seq` exist in `conversation` (a send it made or forwarded, a live delivery). */
  #saw(conversation: string, seq: number): void {
    if ((this.#known.get(conversation) ?? 0) < seq) remember(this.#known, conversation, seq);
  }

  // ---- plumbing ------------------------------------------------------------------------

  /** Highest seq per conversation, asking each home region once for all of its conversations. */
  async #lasts(conversations: readonly string[]): Promise<Map<string, number>> {
    const byHome = new Map<string, string[]>();
    const out = new Map<string, number>();
    for (const c of conversations) {
      const home = this.#ownerOf(c).owner;
      byHome.set(home, [...(byHome.get(home) ?? []), c]);
    }
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

  async #fillGap(conversation: string, after: number, upTo: number): Promise<readonly StoredMessage[]> {
    const out: StoredMessage[] = [];
    // Pages from another region may come back cut to fit a bus message: read on until upTo.
    while (upTo > after) {
      const page = await this.history(conversation, { after, limit: Math.min(1000, upTo - after) });
      const got = page.messages.filter((m) => m.seq <= upTo);
      out.push(...got);
      const last = got[got.length - 1]?.seq;
      if (last === undefined || last >= upTo) break;
      after = last;
    }
    return out;
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
      this.#placement.residency.checkSend(input.from, r.id);
      return r.id;
    }
    if (to && typeof to.room === 'string') {
      const c = checkId(to.room);
      if (!c.ok) throw invalid(`to.room ${c.reason}`, 'to.room');
      const conversation = roomConversation(to.room);
      this.#placement.residency.checkSend(input.from, conversation);
      return conversation;
    }
    throw invalid('to must be { user } or { room }', 'to');
  }

  /**
   * The first seq a new owner may give in `epoch`: past its copy by `maxUnreplicated`, since the
   * old home may have acked (and delivered) that many `local` entries the copy never got; 0 once
   * the epoch has begun in this log (its last entry carries the epoch).
   */
  async #epochStart(conversation: string, epoch: number): Promise<number> {
    if (this.#epochBegun.has(conversation)) return 0;
    const last = await this.#log.last(conversation);
    const [entry] = last === 0 ? [] : await this.#log.read(conversation, { after: last - 1, limit: 1 });
    if (entry !== undefined && Number(entry.headers[EPOCH_HEADER] ?? 1) >= epoch) {
      this.#epochBegun.add(conversation);
      return 0;
    }
    return last + this.#replication.maxUnreplicated + 1;
  }

  /**
   * This home lost its conversations whose replica is `owner`: entries it acked as `local` that
   * the copy never got stay in its own log, at seqs the new owner never gives (it starts past them),
   * and are reported here — a warning per conversation and a metric — never merged or dropped.
   * Clients resuming over that range get `resumed` with `recovered: false`.
   */
  async #reportAside(owner: string): Promise<void> {
    for (const [conversation, copied] of this.#replicator.tracked()) {
      if (this.#placement.homeOf(conversation) !== this.region || this.#placement.replicasOf(conversation)[0] !== owner) continue;
      const last = await this.#log.last(conversation).catch(() => copied);
      if (last <= copied) continue;
      this.#metrics?.failoverAside(last - copied);
      // One trace per report, from this line to the event the owner writes (and its lines).
      const parent = activeContext();
      const span = startSpan('meridian.failover.aside', SpanKind.CLIENT, parent, { 'meridian.region': this.region, 'meridian.owner': owner, 'meridian.from_seq': copied + 1, 'meridian.to_seq': last });
      const ctx = withSpan(parent, span);
      this.#metrics?.log.warn({ event: 'failover_aside', conversation, owner, fromSeq: copied + 1, toSeq: last, ...traceFields(ctx) }, `${conversation}: seqs ${copied + 1}–${last} were acked here but may not have reached ${owner}; they stay in this region's log`);
      void this.#tellOwnerAside(owner, conversation, copied + 1, last, ctx).then((err) => (err === undefined ? span.end() : failSpan(span, err)));
    }
  }

  /**
   * Ask the new owner to write the `failover_aside` event (the report's trace in the request);
   * retried while it does not answer. Resolves to the last error when it never took it.
   */
  async #tellOwnerAside(owner: string, conversation: string, fromSeq: number, toSeq: number, trace: Context): Promise<unknown> {
    let last: unknown;
    for (let attempt = 0; attempt < ASIDE_ATTEMPTS && !this.#closed; attempt++) {
      try {
        await this.#call(owner, { op: 'aside', conversation, region: this.region, fromSeq, toSeq }, this.#rpcTimeoutMs, trace);
        return undefined;
      } catch (err) {
        last = err;
        if (attempt === ASIDE_ATTEMPTS - 1) this.#metrics?.log.warn({ event: 'failover_aside_unreported', conversation, owner, err: (err as Error).message, ...traceFields(trace) }, `${conversation}: ${owner} did not take the failover_aside event`);
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)).unref());
      }
    }
    return last;
  }

  /**
   * At the owner: write the old home's report into the conversation as an event (a log entry from
   * `meridian` with the `mrd-event` header, protocol `message.event`), so every participant sees,
   * in order and in history, which seqs may hold messages they will not find here. Idempotent:
   * the same report has the same message id.
   */
  async #storeAsideEvent(conversation: string, region: string, fromSeq: number, toSeq: number, parent: Context): Promise<SendResult> {
    const id = messageIdOf(conversation, SYSTEM_SENDER, `failover-aside:${region}:${fromSeq}-${toSeq}`);
    const body = { region, fromSeq, toSeq, count: toSeq - fromSeq + 1 };
    const { r, own, headers } = await this.#appendAsOwner(conversation, { id, from: SYSTEM_SENDER, body, headers: { [REGION_HEADER]: this.region, [EVENT_HEADER]: 'failover_aside' } }, parent);
    if (!r.duplicate) {
      try {
        const entry = { conversation, seq: r.seq, id: r.id, from: SYSTEM_SENDER, timestamp: r.timestamp, body, headers };
        if (own.next.length > 0) this.#replicator.replicateLater(conversation, r.seq, entry, traceFields(parent));
        await this.#order.turn(conversation, r.seq);
        this.#publishToParticipants(conversation, enc.encode(encodeMessage(storedFromEntry(entry))));
      } finally {
        this.#order.done(conversation, r.seq);
      }
    }
    this.#metrics?.log.info({ event: 'failover_aside_event', conversation, region, fromSeq, toSeq, seq: r.seq, ...traceFields(parent) }, `${conversation}: recorded that ${region} holds seqs ${fromSeq}–${toSeq} aside`);
    return { messageId: r.id, conversation, seq: r.seq, timestamp: r.timestamp, duplicate: r.duplicate, home: this.region, durability: 'local' };
  }

  /** Who writes the conversation now and where its copies go. */
  #ownerOf(conversation: string): Ownership {
    return this.#failover?.ownerOf(conversation) ?? { owner: this.#placement.homeOf(conversation), epoch: 1, next: this.#placement.replicasOf(conversation) };
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

/** The durability a send gets: asked for, else the conversation's rule, else the default; refused when not allowed. */
function chooseDurability(r: Topology['replication'], replicas: number, conversation: string, asked: Durability | undefined): Durability {
  const d = asked ?? r.conversations.find((c) => globMatch(c.match, conversation))?.durability ?? r.durability;
  if (!r.allow.includes(d) || (d === 'replicated' && replicas === 0)) {
    throw new MeridianError(ErrorCode.MsgDurabilityNotAllowed, `durability "${d}" is not allowed for ${conversation} (allowed: ${replicas === 0 ? 'local' : r.allow.join(', ')})`, { details: { path: 'durability', durability: d } });
  }
  return d;
}

/** Set `key` to `value` as the most recent entry of a bounded map (oldest dropped first). */
function remember(map: Map<string, number>, key: string, value: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_KNOWN) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}

/** Tries to hand the `failover_aside` report to the new owner (backoff 0.5 s doubling, 30 s at most). */
const ASIDE_ATTEMPTS = 8;

function checkUser(user: string, path: string): void {
  const c = checkId(user);
  if (!c.ok) throw invalid(`${path} ${c.reason}`, path);
}

function invalid(message: string, path: string): MeridianError {
  return new MeridianError(ErrorCode.MsgInvalid, message, { details: { path } });
}

/** Messaging for one region, its failover rounds started (a healthy home can write at once). */
export async function createMessaging(opts: MessagingOptions): Promise<Messaging> {
  const m = new BusMessaging(opts);
  await m.start();
  return m;
}
