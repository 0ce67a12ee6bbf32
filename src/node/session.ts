/**
 * One WebSocket connection: authenticate, then serve frames until it closes.
 *
 *   awaiting auth ──auth ok──> open ──close/timeout/policy──> closed
 *        │ (10 s: 4504, bad token: 4750)
 *
 * Every client frame goes through `parseClientFrame` (never throws; every failure is an error
 * frame with `ref`), then the frame rate limit, then its handler. Handlers are async and each one
 * catches its own failures into an error frame: nothing a client sends can throw out of here.
 * Invalid and rate-limited frames also drain an abuse bucket; an empty one closes 4753.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { ErrorCode, isMeridianError } from '../errors/mod.js';
import type { Delivery, StoredMessage } from '../messaging/types.js';
import {
  CloseCode,
  dmPeer,
  encodeServerFrame,
  errorFrame,
  parseClientFrame,
  parseConversation,
  roomConversation,
  scanRef,
  tryDmConversation,
  wireErrorName,
} from '../protocol/mod.js';
import type {
  AuthFrame,
  ClientFrame,
  DeliveryAckFrame,
  JoinFrame,
  LeaveFrame,
  PresenceQueryFrame,
  ReadFrame,
  RequestErrorName,
  ResumeFrame,
  RetransmitFrame,
  SendFrame,
  ServerFrame,
  SubscribePresenceFrame,
  UnsubscribePresenceFrame,
} from '../protocol/mod.js';
import { mayJoin, mayQueryPresence, mayRead, maySend, NOT_A_PARTICIPANT, noRoomCapability } from './access-rules.js';
import type { Identity } from './auth.js';
import type { NodeContext, SessionRef } from './context.js';
import { Outbound, frameText, framedDelivery } from './deliver.js';
import type { SlowListener, SlowReason } from './deliver.js';
import { roomKey, userKey } from './presence-hub.js';
import type { PresenceKey, PresenceListener } from './presence-hub.js';
import { TokenBucket } from './rate-limit.js';
import { ConversationStream, ReplayError } from './stream.js';
import type { StreamHost } from './stream.js';
import { clientAddress } from '../http/client-address.js';

/** Most presence subscriptions one connection may hold. */
export const MAX_PRESENCE_SUBSCRIPTIONS = 256;
/** After `close()`, a client that does not complete the closing handshake is cut off. */
const CLOSE_GRACE_MS = 2000;

type State = 'auth' | 'authenticating' | 'open' | 'closed';

/**
 * The socket's listeners are shared by every session (found through this map) rather than two
 * closures per connection: an idle connection should cost little more than its socket.
 */
const sessionOf = new WeakMap<WebSocket, Session>();
function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  sessionOf.get(this)?.onMessage(data, isBinary);
}
function onWsClose(this: WebSocket): void {
  sessionOf.get(this)?.onClose();
}
/** ws closes the socket itself on protocol errors (1009 too big, 1002…): stop deliveries at once. */
function onWsError(this: WebSocket): void {
  sessionOf.get(this)?.stopDeliveries();
}
/** History reads one connection may have in flight (resume of many conversations). */
const REPLAY_READS = 8;

export class Session implements SessionRef, StreamHost, PresenceListener, SlowListener {
  readonly id = `s-${randomBytes(9).toString('base64url')}`;
  readonly out: Outbound;
  #state: State = 'auth';
  /** Read through a method so TypeScript does not narrow it across awaits. */
  #is(s: State): boolean {
    return this.#state === s;
  }
  #identity: Identity | undefined;
  readonly #connectedAt = performance.now();
  #lastSeen = this.#connectedAt;
  readonly #frames: TokenBucket;
  /** Made at the first invalid frame: a full bucket made late is the same as one made at connect. */
  #abuse: TokenBucket | undefined;
  // Allocated on first use: an idle connection should cost little more than its socket.
  #streams: Map<string, ConversationStream> | undefined;
  #rooms: Map<string, () => void> | undefined;
  #unsubscribeUser: (() => void) | undefined;
  #presenceKeys: Set<PresenceKey> | undefined;
  #sendChains: Map<string, Promise<unknown>> | undefined;
  /** History reads in flight for this connection, and those waiting for a slot. */
  #reading = 0;
  #readQueue: (() => void)[] | undefined;
  /** Set while the offline inbox is being listed: direct messages wait for it. */
  #inboxGate: Promise<void> | undefined;
  /** Deliveries stopped for good (see stopDeliveries). */
  #stopped = false;

  constructor(
    readonly ctx: NodeContext,
    readonly ws: WebSocket,
    socket: Socket,
  ) {
    const { opts } = ctx;
    this.out = new Outbound(ws, socket, opts.outbound, this);
    this.#frames = new TokenBucket(opts.rateLimit.ratePerSec, opts.rateLimit.burst);
    sessionOf.set(ws, this);
    ws.on('message', onWsMessage);
    ws.on('close', onWsClose);
    // Socket errors end in 'close' (without a listener ws would rethrow them); until then nothing
    // more is delivered to a socket that is going away.
    ws.on('error', onWsError);
    ctx.sessions.add(this);
  }

  get user(): string | undefined {
    return this.#identity?.user;
  }

  get maxReplay(): number {
    return this.ctx.opts.limits.maxReplay;
  }

  get replayBuffer(): number {
    return this.ctx.opts.outbound.replayBuffer;
  }

  get messaging(): NodeContext['messaging'] {
    return this.ctx.messaging;
  }

  // --- writing ---------------------------------------------------------------------------

  send(frame: ServerFrame): void {
    this.ctx.metrics.framesOut.inc(frame.type);
    this.out.control(frameText(encodeServerFrame(frame)));
  }

  get metrics(): NodeContext['metrics'] {
    return this.ctx.metrics;
  }

  #error(name: RequestErrorName, message: string, ref: string | undefined, extra: { path?: string; retryAfterMs?: number } = {}): void {
    this.send(errorFrame(name, message, { ref, ...extra }));
  }

  async replayMessage(m: StoredMessage): Promise<boolean> {
    if (!(await this.out.room())) return false;
    this.ctx.metrics.framesOut.inc('message');
    return this.out.control(
      frameText(encodeServerFrame({ type: 'message', conversation: m.conversation, seq: m.seq, messageId: m.messageId, from: m.from, to: { ...m.to }, body: m.body, timestamp: m.timestamp, region: m.region, ...(m.event === undefined ? {} : { event: m.event }) })),
    );
  }

  presenceEvent(frame: Buffer): void {
    if (this.out.live(frame)) this.ctx.metrics.framesOut.inc('presence_event');
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

  /** `path` names what failed (a resume answers each conversation: `positions.<conversation>`). */
  failed(err: unknown, ref: string | undefined, path?: string): void {
    if (this.#state === 'closed') return;
    if (err instanceof ReplayError) {
      const at = err.path ?? path;
      this.#error(err.wire, err.message, ref, at === undefined ? {} : { path: at });
      return;
    }
    this.#fail(err, ref, path);
  }

  /** An error thrown by messaging/presence as an error frame; bugs are logged too. */
  #fail(err: unknown, ref: string | undefined, path?: string): void {
    if (this.#state === 'closed') return;
    const at = path === undefined ? {} : { path };
    if (isMeridianError(err)) {
      this.#error(wireErrorName(err.code), err.message, ref, at);
      return;
    }
    this.ctx.onInternalError(err, 'session');
    this.#error('INTERNAL_ERROR', 'the server failed to handle this frame', ref, at);
  }

  // --- lifecycle ---------------------------------------------------------------------------

  close(code: number, reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.stopDeliveries();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  destroy(): void {
    this.#state = 'closed';
    this.stopDeliveries();
    this.ws.terminate();
  }

  migrate(m: { reason: 'drain' | 'region_unavailable' | 'residency'; suggestedRegion: string; url: string; deadlineMs: number }): void {
    if (this.#state === 'closed') return;
    this.send({ type: 'migrate', ...m });
  }

  sweep(now: number, wall: number): void {
    if (this.#state === 'closed') return;
    const { opts } = this.ctx;
    if (this.#state !== 'open') {
      if (now - this.#connectedAt >= opts.authTimeoutMs) {
        this.ctx.metrics.authFailed('timeout', 'ws');
        this.close(CloseCode.AUTH_TIMEOUT, 'no auth frame in time');
      }
      return;
    }
    if (now - this.#lastSeen >= opts.idleTimeoutMs) this.close(CloseCode.HEARTBEAT_TIMEOUT, 'nothing received in time');
    else if (this.#identity?.expiresAt !== undefined && wall >= this.#identity.expiresAt) this.close(CloseCode.TOKEN_EXPIRED, 'the token expired');
  }

  /** The client does not keep up (called by `out`). */
  slowConsumer(reason: SlowReason): void {
    if (this.#state !== 'closed') this.ctx.metrics.slowConsumerClosed(reason);
    // The close frame queues behind what is buffered; a client that starts reading within the
    // grace gets it, one that does not is cut off by close() (memory stays within hardBytes + grace).
    this.close(CloseCode.SLOW_CONSUMER, reason === 'stuck' ? 'not reading' : 'outgoing buffer full');
  }

  /** The socket closed (its 'close' event). */
  onClose(): void {
    sessionOf.delete(this.ws);
    this.#state = 'closed';
    this.ctx.sessions.delete(this);
    this.stopDeliveries();
  }

  /**
   * The socket is closing or closed (our close, ws's own protocol-error close, or the peer's):
   * from now on nothing is delivered, replayed or gap-filled for this connection. A delivery
   * that reached a closing socket used to look like a gap, whose fill could not be written,
   * which looked like a gap again — forever, in resolved promises. Idempotent.
   */
  stopDeliveries(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#state = 'closed';
    this.out.close();
    this.#unsubscribeUser?.();
    this.#unsubscribeUser = undefined;
    const id = this.#identity;
    for (const [room, unsubscribe] of this.#rooms ?? []) {
      unsubscribe();
      if (id) this.ctx.presence.leave(room, id.user, this.id);
    }
    this.#rooms = undefined;
    for (const s of this.#streams?.values() ?? []) s.close();
    this.#streams = undefined;
    for (const key of this.#presenceKeys ?? []) this.ctx.hub.unsubscribe(key, this);
    this.#presenceKeys = undefined;
    if (id) {
      this.ctx.presence.disconnect(id.user, this.id);
      this.ctx.metrics.sessionEnded(id.user);
    }
  }

  // --- reading -----------------------------------------------------------------------------

  #abused(): void {
    const { opts } = this.ctx;
    if ((this.#abuse ??= new TokenBucket(opts.abuseRatePerSec, opts.abuseBurst)).take() > 0) this.close(CloseCode.POLICY_VIOLATION, 'too many invalid or rate-limited frames');
  }

  /** A frame from the client (the socket's 'message' event). */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#state === 'closed') return;
    this.#lastSeen = performance.now();
    const limits = this.ctx.opts.limits;
    if (isBinary) {
      this.ctx.metrics.framesIn.inc('invalid');
      this.#error('BAD_FRAME', 'binary frames are not accepted: send JSON text frames', undefined);
      this.#abused();
      return;
    }
    const wait = this.#frames.take(this.#lastSeen);
    if (wait > 0) {
      const head = data.subarray(0, 1024).toString('utf8');
      const ref = scanRef(head);
      const validRef = ref !== undefined && ref.length <= limits.maxRefLength && !/[\u0000-\u001f\u007f]/.test(ref) ? ref : undefined; // eslint-disable-line no-control-regex
      this.ctx.metrics.rateLimit('frame');
      this.#error('RATE_LIMITED', `too many frames: at most ${this.ctx.opts.rateLimit.ratePerSec} per second`, validRef, { retryAfterMs: wait });
      this.#abused();
      return;
    }
    const parsed = parseClientFrame(data, limits);
    this.ctx.metrics.framesIn.inc(parsed.ok ? parsed.frame.type : 'invalid');
    if (!parsed.ok) {
      this.send(parsed.error);
      this.#abused();
      return;
    }
    this.#dispatch(parsed.frame);
  }

  /** Run a handler; whatever it throws (sync or async) becomes an error frame, never a crash. */
  #guard(ref: string | undefined, run: () => void | Promise<void>): void {
    try {
      const p = run();
      if (p !== undefined) p.catch((err: unknown) => this.#fail(err, ref));
    } catch (err) {
      this.#fail(err, ref);
    }
  }

  #dispatch(f: ClientFrame): void {
    this.#guard(f.id, () => this.#handle(f));
  }

  #handle(f: ClientFrame): void | Promise<void> {
    if (this.#state !== 'open') {
      if (f.type === 'auth' && this.#state === 'auth') return this.#auth(f);
      if (f.type === 'auth') this.#error('ALREADY_AUTHENTICATED', 'authentication is in progress', f.id);
      else this.#error('NOT_AUTHENTICATED', 'the first frame must be auth; wait for welcome', f.id);
      this.#abused();
      return;
    }
    const id = this.#identity!;
    switch (f.type) {
      case 'auth':
        this.#error('ALREADY_AUTHENTICATED', 'this connection is already authenticated', f.id);
        return;
      case 'send':
        return this.#send(id, f);
      case 'delivery_ack':
      case 'read':
        return this.#cursor(id, f);
      case 'join':
        return this.#join(id, f);
      case 'leave':
        return this.#leave(id, f);
      case 'presence_query':
        return this.#presenceQuery(id, f);
      case 'subscribe_presence':
        return this.#subscribePresence(id, f);
      case 'unsubscribe_presence':
        return this.#unsubscribePresence(f);
      case 'heartbeat':
        this.send(f.id === undefined ? { type: 'heartbeat', ts: Date.now() } : { type: 'heartbeat', ref: f.id, ts: Date.now() });
        return;
      case 'resume':
        return this.#resume(id, f);
      case 'retransmit':
        return this.#retransmit(id, f);
    }
  }

  // --- auth --------------------------------------------------------------------------------

  async #auth(f: AuthFrame): Promise<void> {
    this.#state = 'authenticating';
    let identity: Identity;
    try {
      identity = f.token !== undefined ? await this.ctx.auth.verify(f.token) : this.ctx.auth.devIdentity(f.user ?? '', { jurisdiction: f.jurisdiction, country: f.country });
    } catch (err) {
      if (this.#is('closed')) return;
      this.ctx.metrics.authFailed(isMeridianError(err) && err.code === ErrorCode.AuthExpired ? 'expired' : 'invalid', 'ws');
      if (!isMeridianError(err)) this.ctx.onInternalError(err, 'auth');
      this.ctx.audit?.record({ actor: { kind: 'anonymous' }, action: 'auth.refused', target: 'websocket', from: clientAddress(this.out.socket), outcome: 'refused', status: CloseCode.AUTH_FAILED });
      if (isMeridianError(err) && err.code === ErrorCode.AuthResidency) this.close(CloseCode.RESIDENCY_MISMATCH, err.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 120)); // a close reason is at most 123 bytes
      else this.close(CloseCode.AUTH_FAILED, isMeridianError(err) && err.code === ErrorCode.AuthExpired ? 'the token has expired' : 'authentication failed');
      return;
    }
    if (this.#is('closed')) return;
    this.#identity = identity;
    this.#state = 'open';
    this.ctx.metrics.sessionStarted(identity.user);
    const { opts } = this.ctx;
    this.send({
      type: 'welcome',
      ref: f.id,
      protocol: 1,
      region: opts.region,
      node: opts.node,
      session: this.id,
      user: identity.user,
      heartbeatMs: opts.heartbeatMs,
      idleTimeoutMs: opts.idleTimeoutMs,
      limits: this.ctx.welcomeLimits,
      rooms: [...identity.rooms],
      ...(identity.expiresAt === undefined ? {} : { expiresAt: identity.expiresAt }),
    });
    // Token expiry is enforced by the node's sweep (at most one sweep interval late): a timer per
    // connection would cost memory on every idle socket.
    this.ctx.presence.connect(identity.user, this.id);
    this.#unsubscribeUser = this.ctx.messaging.onUser(identity.user, (d) => this.#onUserDelivery(d));
    this.#inboxGate = this.#replayInbox(identity);
    // A user under a strict residency rule that excludes this region is served where it allows:
    // their strict conversations are refused here (RESIDENCY_FORBIDDEN), so move them now.
    void this.ctx.residencyTarget?.(identity.user).then(
      (target) => {
        if (target !== undefined) this.migrate({ reason: 'residency', suggestedRegion: target.region, url: target.url, deadlineMs: this.ctx.opts.drainDeadlineMs });
      },
      (err: unknown) => this.ctx.onInternalError(err, 'residency'),
    );
  }

  /** The offline inbox: every direct conversation with messages past the delivered cursor. */
  async #replayInbox(id: Identity): Promise<void> {
    try {
      const pending = await this.ctx.messaging.pending(id.user);
      if (this.#state === 'closed') return;
      for (const p of pending) {
        const c = parseConversation(p.conversation);
        if (!c || dmPeer(c, id.user) === undefined || p.lastSeq <= p.cursor) continue;
        const s = this.#stream(p.conversation);
        s.run(() => s.replay({ from: p.cursor + 1, skipSent: true, follow: true })).catch((err: unknown) => this.failed(err, undefined));
      }
    } catch (err) {
      // The client still has resume; an unreachable inbox must not end the connection.
      if (!isMeridianError(err)) this.ctx.onInternalError(err, 'inbox');
    } finally {
      this.#inboxGate = undefined;
    }
  }

  #stream(conversation: string): ConversationStream {
    const streams = (this.#streams ??= new Map<string, ConversationStream>());
    let s = streams.get(conversation);
    if (!s) {
      s = new ConversationStream(conversation, this);
      // A late handler (an answer that arrived after the socket closed) gets a stream that takes nothing.
      if (this.#stopped) s.close();
      else streams.set(conversation, s);
    }
    return s;
  }

  #onUserDelivery(d: Delivery): void {
    try {
      this.#userDelivery(d);
    } catch (err) {
      // Never let one session's failure stop messaging's fan-out to the others.
      this.ctx.onInternalError(err, 'delivery');
    }
  }

  /** False (and deliveries stopped) once the socket is no longer open, whoever closed it. */
  #deliverable(): boolean {
    if (this.#state === 'closed') return false;
    if (this.out.open) return true;
    this.stopDeliveries();
    return false;
  }

  #userDelivery(d: Delivery): void {
    if (!this.#deliverable()) return;
    if (d.kind === 'receipt') {
      if (this.out.live(framedDelivery(d))) this.ctx.metrics.framesOut.inc('receipt');
      return;
    }
    const s = this.#stream(d.conversation);
    const gate = this.#inboxGate;
    // While the inbox is listed, a live message could overtake the replay of its conversation.
    if (gate !== undefined && !s.busy) s.run(() => gate).catch(() => undefined);
    s.live(d);
  }

  // --- requests ------------------------------------------------------------------------------

  /** Who may read or acknowledge a conversation (access-rules.ts); an id that does not parse is nobody's. */
  #mayRead(id: Identity, conversation: string): boolean {
    const c = parseConversation(conversation, this.ctx.opts.limits.maxIdLength);
    return c !== undefined && mayRead(id, c);
  }

  async #send(id: Identity, f: SendFrame): Promise<void> {
    let conversation: string;
    if (f.to.user !== undefined) {
      const dm = tryDmConversation(id.user, f.to.user, this.ctx.opts.limits.maxIdLength);
      if (!dm.ok) return this.#error('INVALID_FIELD', `to.user: ${dm.reason}`, f.id, { path: 'to.user' });
      conversation = dm.id;
    } else {
      const may = maySend(id, f.to);
      if (!may.ok) return this.#error('FORBIDDEN', `${may.path}: ${may.reason}`, f.id, { path: may.path });
      conversation = roomConversation(f.to.room!);
    }
    // One send at a time per conversation and connection: a sender's messages keep their order.
    const chains = (this.#sendChains ??= new Map<string, Promise<unknown>>());
    const prev = chains.get(conversation) ?? Promise.resolve();
    const to = f.to.user !== undefined ? { user: f.to.user } : { room: f.to.room! };
    const p = prev.then(() => this.ctx.messaging.send({ from: id.user, to, body: f.body, clientMsgId: f.clientMsgId, ...(f.durability === undefined ? {} : { durability: f.durability }) }));
    const settled = p.catch(() => undefined);
    chains.set(conversation, settled);
    void settled.then(() => {
      if (chains.get(conversation) === settled) chains.delete(conversation);
    });
    try {
      const r = await p;
      if (this.#state === 'closed') return;
      this.send({ type: 'ack', ref: f.id, messageId: r.messageId, conversation: r.conversation, seq: r.seq, timestamp: r.timestamp, duplicate: r.duplicate, durability: r.durability });
    } catch (err) {
      this.#fail(err, f.id);
    }
  }

  async #cursor(id: Identity, f: DeliveryAckFrame | ReadFrame): Promise<void> {
    if (!this.#mayRead(id, f.conversation)) return this.#error('FORBIDDEN', `conversation: ${NOT_A_PARTICIPANT}`, f.id, { path: 'conversation' });
    try {
      const hwm = this.#streams?.get(f.conversation)?.hwm;
      if (hwm === undefined || f.seq > hwm) {
        const last = await this.ctx.messaging.lastSeq(f.conversation);
        if (f.seq > last) return this.#error('BAD_SEQUENCE', `seq: beyond the conversation's last seq ${last}`, f.id, { path: 'seq' });
      }
      if (f.type === 'delivery_ack') await this.ctx.messaging.ackDelivered(id.user, f.conversation, f.seq);
      else await this.ctx.messaging.ackRead(id.user, f.conversation, f.seq);
    } catch (err) {
      this.#fail(err, f.id);
    }
  }

  #join(id: Identity, f: JoinFrame): void {
    if (!mayJoin(id, f.room)) return this.#error('FORBIDDEN', `room: ${noRoomCapability(f.room)}`, f.id, { path: 'room' });
    const conversation = roomConversation(f.room);
    const rooms = (this.#rooms ??= new Map<string, () => void>());
    const max = this.ctx.opts.limits.maxRoomsPerConnection;
    if (!rooms.has(f.room) && rooms.size >= max) return this.#error('INVALID_FIELD', `room: at most ${max} rooms per connection: leave one first`, f.id, { path: 'room' });
    const s = this.#stream(conversation);
    if (!rooms.has(f.room)) {
      rooms.set(f.room, this.ctx.messaging.onRoom(f.room, (d) => {
        try {
          if (!this.#deliverable()) return;
          if (d.kind === 'message') s.live(d);
          else if (this.out.live(framedDelivery(d))) this.ctx.metrics.framesOut.inc('receipt');
        } catch (err) {
          this.ctx.onInternalError(err, 'delivery');
        }
      }));
      this.ctx.presence.join(f.room, id.user, this.id);
    }
    s.run(async () => {
      const last = await this.ctx.messaging.lastSeq(conversation);
      s.startAfter(last);
      this.send({ type: 'joined', ref: f.id, room: f.room, conversation, lastSeq: last });
    }).catch((err: unknown) => {
      // Not joined after all: undo, so a retry starts clean.
      this.#dropRoom(id, f.room);
      this.#fail(err, f.id);
    });
  }

  #dropRoom(id: Identity, room: string): boolean {
    const unsubscribe = this.#rooms?.get(room);
    if (!unsubscribe) return false;
    unsubscribe();
    this.#rooms?.delete(room);
    const conversation = roomConversation(room);
    this.#streams?.get(conversation)?.close();
    this.#streams?.delete(conversation);
    this.ctx.presence.leave(room, id.user, this.id);
    return true;
  }

  #leave(id: Identity, f: LeaveFrame): void {
    if (!this.#dropRoom(id, f.room)) return this.#error('NOT_FOUND', `room: not joined to ${JSON.stringify(f.room.slice(0, 64))}`, f.id, { path: 'room' });
    this.send({ type: 'left', ref: f.id, room: f.room, conversation: roomConversation(f.room) });
  }

  async #presenceSnapshot(id: Identity, f: PresenceQueryFrame | SubscribePresenceFrame): Promise<void> {
    if (f.user !== undefined) {
      const st = await this.ctx.presence.user(f.user);
      if (this.#state === 'closed') return;
      this.send({ type: 'presence', ref: f.id, of: 'user', state: { ...st, regions: [...st.regions] } });
      return;
    }
    const r = await this.ctx.presence.room(f.room!, { limit: this.ctx.opts.maxPresenceMembers });
    if (this.#state === 'closed') return;
    this.send({ type: 'presence', ref: f.id, of: 'room', room: r.room, truncated: r.truncated, members: r.members.map((m) => ({ ...m, regions: [...m.regions] })) });
  }

  #presenceAllowed(id: Identity, f: PresenceQueryFrame | SubscribePresenceFrame): boolean {
    if (mayQueryPresence(id, f)) return true;
    this.#error('FORBIDDEN', `room: ${noRoomCapability(f.room ?? '')}`, f.id, { path: 'room' });
    return false;
  }

  async #presenceQuery(id: Identity, f: PresenceQueryFrame): Promise<void> {
    if (!this.#presenceAllowed(id, f)) return;
    try {
      await this.#presenceSnapshot(id, f);
    } catch (err) {
      this.#fail(err, f.id);
    }
  }

  async #subscribePresence(id: Identity, f: SubscribePresenceFrame): Promise<void> {
    if (!this.#presenceAllowed(id, f)) return;
    const key = f.user !== undefined ? userKey(f.user) : roomKey(f.room!);
    const keys = (this.#presenceKeys ??= new Set());
    if (!keys.has(key) && keys.size >= MAX_PRESENCE_SUBSCRIPTIONS) {
      return this.#error('INVALID_FIELD', `at most ${MAX_PRESENCE_SUBSCRIPTIONS} presence subscriptions per connection`, f.id, { path: f.user !== undefined ? 'user' : 'room' });
    }
    keys.add(key);
    // Subscribe before the snapshot, so no change between the two is missed.
    this.ctx.hub.subscribe(key, this);
    try {
      await this.#presenceSnapshot(id, f);
    } catch (err) {
      this.#fail(err, f.id);
    }
  }

  #unsubscribePresence(f: UnsubscribePresenceFrame): void {
    const key = f.user !== undefined ? userKey(f.user) : roomKey(f.room!);
    if (!this.#presenceKeys?.delete(key)) return this.#error('NOT_FOUND', 'not subscribed to this presence', f.id, { path: f.user !== undefined ? 'user' : 'room' });
    this.ctx.hub.unsubscribe(key, this);
    this.send({ type: 'ok', ref: f.id });
  }

  #resume(id: Identity, f: ResumeFrame): void {
    for (const [conversation, position] of Object.entries(f.positions)) {
      const path = `positions.${conversation}`;
      if (!this.#mayRead(id, conversation)) {
        this.#error('FORBIDDEN', `${path}: ${NOT_A_PARTICIPANT}`, f.id, { path });
        continue;
      }
      const s = this.#stream(conversation);
      s.run(() => s.replay({ from: position + 1, ref: f.id, skipSent: true, path })).catch((err: unknown) => this.failed(err, f.id, path));
    }
  }

  #retransmit(id: Identity, f: RetransmitFrame): void {
    if (!this.#mayRead(id, f.conversation)) return this.#error('FORBIDDEN', `conversation: ${NOT_A_PARTICIPANT}`, f.id, { path: 'conversation' });
    const s = this.#stream(f.conversation);
    const req = f.toSeq === undefined ? { from: f.fromSeq, ref: f.id, skipSent: false, path: 'fromSeq' } : { from: f.fromSeq, to: f.toSeq, ref: f.id, skipSent: false, path: 'fromSeq' };
    s.run(() => s.replay(req)).catch((err: unknown) => this.failed(err, f.id));
  }
}
