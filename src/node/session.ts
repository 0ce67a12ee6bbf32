/**
 * One WebSocket connection: authenticate, then serve frames until it closes. This is the core;
 * each capability's frames are handled in src/node/session/ (messaging.ts, rooms.ts, replay.ts)
 * through the narrow `SessionPort` (session/port.ts), and who may do what is decided by
 * access-rules.ts.
 *
 *   awaiting auth ──auth ok──> open ──close/timeout/policy──> closed
 *        │ (10 s: 4504, bad token: 4750)
 *
 * Every client frame goes through `parseClientFrame` (never throws; every failure is an error
 * frame with `ref`), then the frame rate limit, then its handler, found in one table (`#FRAMES`).
 * Handlers are async and each one catches its own failures into an error frame: nothing a client
 * sends can throw out of here. Invalid and rate-limited frames also drain an abuse bucket; an
 * empty one closes 4753.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { isMeridianError } from '../errors/mod.js';
import { CloseCode, encodeServerFrame, errorFrame, wireErrorName } from '../protocol/mod.js';
import type { AuthFrame, ClientFrame, ClientFrameOf, ClientFrameType, RequestErrorName, ServerFrame } from '../protocol/mod.js';
import { clientAddress } from '../http/client-address.js';
import type { Identity } from './auth.js';
import type { NodeContext, SessionRef } from './context.js';
import { Outbound, frameText } from './deliver.js';
import type { SlowListener, SlowReason } from './deliver.js';
import { TokenBucket } from './rate-limit.js';
import { ReplayError } from './stream.js';
import { identify, refusal, welcome } from './session/handshake.js';
import { intake } from './session/intake.js';
import { MessagingFrames } from './session/messaging.js';
import type { SessionPort } from './session/port.js';
import { replayInbox, resume, retransmit } from './session/replay.js';
import { RoomFrames } from './session/rooms.js';
import { SessionStreams } from './session/streams.js';

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

/** The handler of a frame type once the session is open (auth is the core's own). */
type Handler<T extends ClientFrameType> = (s: Session, id: Identity, f: ClientFrameOf<T>) => void | Promise<void>;
type OpenFrameType = Exclude<ClientFrameType, 'auth'>;

export class Session implements SessionRef, SessionPort, SlowListener {
  /** Which capability handles each frame: one entry per type (the compiler checks none is missing). */
  static readonly #FRAMES: { readonly [T in OpenFrameType]: Handler<T> } = {
    send: (s, id, f) => s.#messagingFrames(id).send(f),
    delivery_ack: (s, id, f) => s.#messagingFrames(id).cursor(f),
    read: (s, id, f) => s.#messagingFrames(id).cursor(f),
    join: (s, id, f) => s.#roomFrames(id).join(f),
    leave: (s, id, f) => s.#roomFrames(id).leave(f),
    presence_query: (s, id, f) => s.#roomFrames(id).presenceQuery(f),
    subscribe_presence: (s, id, f) => s.#roomFrames(id).subscribePresence(f),
    unsubscribe_presence: (s, id, f) => s.#roomFrames(id).unsubscribePresence(f),
    resume: (s, id, f) => resume(s, id, f),
    retransmit: (s, id, f) => retransmit(s, id, f),
    heartbeat: (s, _id, f) => s.send(f.id === undefined ? { type: 'heartbeat', ts: Date.now() } : { type: 'heartbeat', ref: f.id, ts: Date.now() }),
  };

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
  // Each capability's state is made on first use: an idle connection should cost little more than its socket.
  #streams: SessionStreams | undefined;
  #messaging: MessagingFrames | undefined;
  #rooms: RoomFrames | undefined;
  #unsubscribeUser: (() => void) | undefined;
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

  // --- what handlers get (SessionPort) -------------------------------------------------------

  get closed(): boolean {
    return this.#state === 'closed';
  }

  get inboxGate(): Promise<void> | undefined {
    return this.#inboxGate;
  }

  get streams(): SessionStreams {
    if (this.#streams === undefined) {
      this.#streams = new SessionStreams(this);
      // A late handler (an answer that arrived after the socket closed) gets streams that take nothing.
      if (this.#stopped) this.#streams.close();
    }
    return this.#streams;
  }

  #messagingFrames(id: Identity): MessagingFrames {
    return (this.#messaging ??= new MessagingFrames(this, id));
  }

  #roomFrames(id: Identity): RoomFrames {
    return (this.#rooms ??= new RoomFrames(this, id));
  }

  send(frame: ServerFrame): void {
    this.ctx.metrics.framesOut.inc(frame.type);
    this.out.control(frameText(encodeServerFrame(frame)));
  }

  error(name: RequestErrorName, message: string, ref: string | undefined, extra: { path?: string; retryAfterMs?: number } = {}): void {
    this.send(errorFrame(name, message, { ref, ...extra }));
  }

  /** `path` names what failed (a resume answers each conversation: `positions.<conversation>`). */
  fail(err: unknown, ref: string | undefined, path?: string): void {
    if (this.#state === 'closed') return;
    if (err instanceof ReplayError) {
      const at = err.path ?? path;
      this.error(err.wire, err.message, ref, at === undefined ? {} : { path: at });
      return;
    }
    const at = path === undefined ? {} : { path };
    if (isMeridianError(err)) {
      this.error(wireErrorName(err.code), err.message, ref, at);
      return;
    }
    this.ctx.onInternalError(err, 'session');
    this.error('INTERNAL_ERROR', 'the server failed to handle this frame', ref, at);
  }

  deliverable(): boolean {
    if (this.#state === 'closed') return false;
    if (this.out.open) return true;
    this.stopDeliveries();
    return false;
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
    this.#rooms?.stop();
    this.#streams?.close();
    const id = this.#identity;
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
    const read = intake(this.ctx, this.#frames, data, isBinary, this.#lastSeen);
    if (!read.ok) {
      this.send(read.error);
      this.#abused();
      return;
    }
    const f = read.frame;
    // Whatever a handler throws (sync or async) becomes an error frame, never a crash.
    try {
      const p = this.#handle(f);
      if (p !== undefined) p.catch((err: unknown) => this.fail(err, f.id));
    } catch (err) {
      this.fail(err, f.id);
    }
  }

  #handle(f: ClientFrame): void | Promise<void> {
    if (this.#state !== 'open') {
      if (f.type === 'auth' && this.#state === 'auth') return this.#auth(f);
      if (f.type === 'auth') this.error('ALREADY_AUTHENTICATED', 'authentication is in progress', f.id);
      else this.error('NOT_AUTHENTICATED', 'the first frame must be auth; wait for welcome', f.id);
      this.#abused();
      return;
    }
    if (f.type === 'auth') return this.error('ALREADY_AUTHENTICATED', 'this connection is already authenticated', f.id);
    // The table is typed per frame type, and `f.type` picks the entry made for exactly this frame.
    return (Session.#FRAMES[f.type] as Handler<OpenFrameType>)(this, this.#identity!, f);
  }

  // --- auth --------------------------------------------------------------------------------

  async #auth(f: AuthFrame): Promise<void> {
    this.#state = 'authenticating';
    let identity: Identity;
    try {
      identity = await identify(this.ctx, f);
    } catch (err) {
      if (this.#is('closed')) return;
      const { code, reason } = refusal(this.ctx, err, clientAddress(this.out.socket));
      this.close(code, reason);
      return;
    }
    if (this.#is('closed')) return;
    this.#identity = identity;
    this.#state = 'open';
    this.ctx.metrics.sessionStarted(identity.user);
    this.send(welcome(this.ctx, this.id, identity, f.id));
    // Token expiry is enforced by the node's sweep (at most one sweep interval late): a timer per
    // connection would cost memory on every idle socket.
    this.ctx.presence.connect(identity.user, this.id);
    this.#unsubscribeUser = this.ctx.messaging.onUser(identity.user, (d) => this.#messagingFrames(identity).userDelivery(d));
    this.#inboxGate = replayInbox(this, identity).finally(() => (this.#inboxGate = undefined));
    // A user under a strict residency rule that excludes this region is served where it allows:
    // their strict conversations are refused here (RESIDENCY_FORBIDDEN), so move them now.
    void this.ctx.residencyTarget?.(identity.user).then(
      (target) => {
        if (target !== undefined) this.migrate({ reason: 'residency', suggestedRegion: target.region, url: target.url, deadlineMs: this.ctx.opts.drainDeadlineMs });
      },
      (err: unknown) => this.ctx.onInternalError(err, 'residency'),
    );
  }
}
