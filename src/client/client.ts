/**
 * The Meridian client: one logical connection to the service that survives reconnects,
 * region changes and drains. It owns the state a connection loses when it drops — the outbox of
 * unacknowledged sends, the receive positions, joined rooms, presence subscriptions — and
 * replays it onto every new connection: rooms re-joined, subscriptions renewed, conversations
 * resumed from their positions, unacked sends re-sent with their clientMsgId (the server
 * dedupes them). The per-socket handshake is in connection.ts, the receive side in receiver.ts.
 *
 * With `edge`, where to connect is elected (election.ts): the fastest of the regions the edge
 * allows, re-elected periodically and when the link degrades (link-watch.ts). Every move —
 * re-election or `migrate` — is make-before-break (`handover`): the new connection is opened,
 * authenticated, its rooms re-joined and its resume answered before the old one is closed, so
 * peers see no leave/rejoin and nothing is lost; a move that cannot connect keeps the old link.
 *
 * Browser-safe: no Node imports. The WebSocket constructor is injected (`globalThis.WebSocket`
 * by default; the Node entry, node.ts, passes `ws`).
 */
import { parseConversation } from '../protocol/mod.js';
import type { AuthFrame, ClientFrame, ErrorFrame, JsonValue, MigrateFrame, PresenceFrame, ServerFrame, WelcomeFrame } from '../protocol/mod.js';
import { Backoff } from './backoff.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { Connection } from './connection.js';
import type { CloseInfo } from './connection.js';
import { ClientClosedError, ClientInvalidError, ClientUnreachableError, ConnectionClosedError, RequestFailedError } from './errors.js';
import type { ConnectAttempt } from './errors.js';
import { DEFAULT_ELECTION, Elector, edgeWsUrl } from './election.js';
import type { ElectionOptions, ElectionResult, FetchLike } from './election.js';
import { LinkWatch } from './link-watch.js';
import { AsyncQueue, Emitter } from './events.js';
import { closeAction } from './close-policy.js';
import { Heartbeat } from './heartbeat.js';
import { Sender } from './sender.js';
import { Receiver } from './receiver.js';
import { Requests } from './requests.js';
import type { ClientEvents, ClientOptions, ClientStatus, ElectionReport, Message, SendAck, SendOptions, Target, WebSocketConstructor } from './types.js';
import { newClientMsgId, targetKey } from './ids.js';

const DEFAULT_TIMEOUT_MS = 10_000;
/** Presence reports travel one WAN round trip plus a flush delay: 1 s covers the planet. */
const DEFAULT_HANDOVER_LINGER_MS = 1000;

export class MeridianClient {
  private readonly events = new Emitter<ClientEvents>();
  private readonly sender: Sender;
  private readonly requests: Requests;
  private readonly receiver: Receiver;
  private readonly backoff: Backoff;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly WebSocket: WebSocketConstructor;
  private readonly urls: readonly string[];
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly handoverLingerMs: number;
  /** Rooms this client wants joined (re-joined after every reconnect). */
  private readonly rooms = new Set<string>();
  /** Rooms whose `join()` call is still in flight (it re-sends itself). */
  private readonly joining = new Set<string>();
  private readonly presenceSubs = new Map<string, Target>();
  private readonly queues = new Set<AsyncQueue<Message>>();
  private readonly statusQueues = new Set<AsyncQueue<ClientStatus>>();
  private conn: Connection | undefined;
  private current: ClientStatus = { type: 'connecting', url: '', attempt: 0 };
  private preferredUrl: string | undefined;
  private frameSeq = 0;
  private everConnected = false;
  private closedFlag = false;
  private closedError: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly heartbeat: Heartbeat;
  /** A move (migrate or re-election) is under way: one at a time. */
  private switching = false;
  private connects = 0;
  private readonly elector: Elector | undefined;
  private readonly electionOptions: ElectionOptions;
  private readonly linkWatch: LinkWatch | undefined;
  private reelectTimer: unknown;
  private lastDegradedElection = -Infinity;
  private readonly ready: Promise<WelcomeFrame>;
  private readyResolve!: (w: WelcomeFrame) => void;
  private readyReject!: (err: Error) => void;
  private readonly closedPromise: Promise<Error | undefined>;
  private closedResolve!: (err: Error | undefined) => void;

  constructor(private readonly options: ClientOptions) {
    const urls = options.url === undefined ? [] : typeof options.url === 'string' ? [options.url] : [...options.url];
    if (options.edge !== undefined) {
      try {
        const u = new URL(options.edge);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
      } catch {
        throw new ClientInvalidError(`edge: "${options.edge}" is not an http(s) URL`);
      }
      if (urls.length === 0) urls.push(edgeWsUrl(options.edge));
    }
    if (urls.length === 0) throw new ClientInvalidError('url: at least one WebSocket URL (or an edge URL) is required');
    if ((options.token === undefined) === (options.user === undefined)) throw new ClientInvalidError('exactly one of token or user (dev mode) is required');
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new ClientInvalidError('no WebSocket implementation: pass options.WebSocket (in Node, import from meridian/client, whose Node entry uses the ws package)');
    this.WebSocket = ctor;
    this.urls = urls;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.handoverLingerMs = options.handoverLingerMs ?? DEFAULT_HANDOVER_LINGER_MS;
    this.backoff = new Backoff(options.backoff, this.random);
    this.heartbeat = new Heartbeat(this.clock, (p) => this.nextId(p));
    this.electionOptions = { ...DEFAULT_ELECTION, ...options.election };
    if (options.edge !== undefined) {
      const f = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
      if (!f) throw new ClientInvalidError('election needs fetch: pass options.fetch');
      this.elector = new Elector({ edge: options.edge, fetch: (input, init) => f(input, init), clock: this.clock, options: this.electionOptions });
      this.linkWatch = new LinkWatch(this.clock, (p) => this.nextId(p), this.electionOptions, () => void this.reelect('degraded'));
    }
    this.sender = new Sender({
      clock: this.clock,
      random: this.random,
      timeoutMs: this.timeoutMs,
      maxInFlight: options.maxInFlightSends ?? 100,
      connection: () => this.conn,
      nextId: (p) => this.nextId(p),
      acked: (conversation, seq) => this.receiver.ownAck(conversation, seq),
      ended: (conversation) => this.receiver.ownSendEnded(conversation),
    });
    this.requests = new Requests(this.clock, this.timeoutMs, { write: (f) => this.write(f), nextId: (p) => this.nextId(p) });
    this.receiver = new Receiver({
      clock: this.clock,
      requests: this.requests,
      write: (f) => this.write(f),
      deliver: (m) => this.deliver(m),
      resumed: (f) => this.emit('resumed', f),
      lost: (r) => this.emit('lost', r),
      error: (e) => this.emit('error', e),
      autoAck: options.autoAck ?? true,
      ackDelayMs: options.ackDelayMs ?? 250,
      gapGraceMs: options.gapGraceMs ?? 300,
      refetchAfterMs: this.timeoutMs,
      positions: options.positions,
      user: () => this.conn?.welcome.user,
      unsettledSends: (conversation) => this.sender.unsettled(conversation),
    });
    this.ready = new Promise<WelcomeFrame>((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    this.ready.catch(() => undefined); // observed through connected()/closed()
    this.closedPromise = new Promise((r) => (this.closedResolve = r));
    void this.run();
  }

  // ---- state ------------------------------------------------------------------------------

  /** Resolves with the first `welcome`; rejects if the client closes (or the first connect fails) before. */
  connected(): Promise<WelcomeFrame> {
    return this.ready;
  }

  /** Resolves when the client is closed: with the error that closed it, or undefined after close(). */
  closed(): Promise<Error | undefined> {
    return this.closedPromise;
  }

  get status(): ClientStatus {
    return this.current;
  }

  /** The current connection's welcome (region, node, session, limits), if connected. */
  get welcome(): WelcomeFrame | undefined {
    return this.conn?.isOpen ? this.conn.welcome : undefined;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Round trip of the last answered heartbeat. */
  get rttMs(): number | undefined {
    return this.heartbeat.rttMs;
  }

  /**
   * Counters since creation: connections made, heartbeats answered, messages handed over,
   * duplicates dropped, retransmits asked for, send attempts after the first.
   */
  get stats(): { connects: number; heartbeats: number; delivered: number; duplicates: number; retransmits: number; resends: number } {
    const { delivered, duplicates, retransmits } = this.receiver.counts;
    return { connects: this.connects, heartbeats: this.heartbeat.answered, resends: this.sender.resends, delivered, duplicates, retransmits };
  }

  /** Sends not acknowledged yet. */
  get pendingSends(): number {
    return this.sender.pending;
  }

  /** Every conversation's position: persist it and pass it back as `options.positions` to resume across restarts. */
  positions(): Record<string, number> {
    return this.receiver.positions();
  }

  on<K extends keyof ClientEvents>(event: K, handler: (value: ClientEvents[K]) => void): () => void {
    return this.events.on(event, handler);
  }

  /** Status changes as an async iterable, starting with the current one. */
  statuses(): AsyncIterableIterator<ClientStatus> {
    const q: AsyncQueue<ClientStatus> = new AsyncQueue(() => this.statusQueues.delete(q));
    q.push(this.current);
    if (this.closedFlag) q.end();
    else this.statusQueues.add(q);
    return q;
  }

  /** Messages as an async iterable (each call gets every message from now on). Ends on close. */
  messages(): AsyncIterableIterator<Message> {
    const q: AsyncQueue<Message> = new AsyncQueue(() => this.queues.delete(q));
    if (this.closedFlag) q.end(this.closedError);
    else this.queues.add(q);
    return q;
  }

  // ---- sending ----------------------------------------------------------------------------

  /**
   * Send a message. Resolves with the server's ack once the message is durable; until then it
   * is kept and re-sent (same clientMsgId) after reconnects and retryable errors. Rejects with
   * RequestFailedError (refused), SendExpiredError (unacked past the dedupe window),
   * ClientClosedError / ConnectionClosedError, or the signal's reason.
   */
  send(to: Target, body: JsonValue, opts: SendOptions = {}): Promise<SendAck> {
    if (this.closedFlag) return Promise.reject(this.closedError ?? new ClientClosedError());
    const hasUser = 'user' in to && typeof to.user === 'string';
    const hasRoom = 'room' in to && typeof to.room === 'string';
    if (hasUser === hasRoom) return Promise.reject(new ClientInvalidError('to: exactly one of user or room is required'));
    const clientMsgId = opts.clientMsgId ?? newClientMsgId(this.random, this.options.random !== undefined);
    return this.sender.send(to, body, clientMsgId, opts.signal, opts.durability);
  }

  /** Read receipt: everything up to `seq` in `conversation` was read. Sent at once (coalesced). */
  markRead(conversation: string, seq: number): void {
    this.receiver.read(conversation, seq);
  }

  /** Delivery cursor, for `autoAck: false`. */
  ack(conversation: string, seq: number): void {
    this.receiver.ack(conversation, seq);
  }

  // ---- rooms and presence -----------------------------------------------------------------

  /** Join a room (re-joined after every reconnect until `leave`). Resolves with the room's newest seq. */
  async join(room: string): Promise<{ conversation: string; lastSeq: number }> {
    this.rooms.add(room);
    this.joining.add(room);
    try {
      const f = await this.one('joined', { frame: (id) => ({ type: 'join', id, room }) });
      this.receiver.joined(f.conversation, f.lastSeq, true);
      return { conversation: f.conversation, lastSeq: f.lastSeq };
    } catch (err) {
      if (err instanceof RequestFailedError && !err.retryable) this.rooms.delete(room);
      throw err;
    } finally {
      this.joining.delete(room);
    }
  }

  /** Leave a room. Not joined (e.g. the connection dropped meanwhile) is not an error: the room is left either way. */
  async leave(room: string): Promise<void> {
    this.rooms.delete(room);
    await this.one('left', { frame: (id) => ({ type: 'leave', id, room }) }).catch(notFoundIsDone);
  }

  /** The presence of a user or of a room's members, from whichever region this client is on. */
  async presence(target: Target): Promise<PresenceFrame> {
    return this.one('presence', { frame: (id) => ({ type: 'presence_query', id, ...target }) });
  }

  /** Subscribe to presence events of a user or a room (renewed after reconnects). Resolves with the snapshot. */
  async subscribePresence(target: Target): Promise<PresenceFrame> {
    this.presenceSubs.set(targetKey(target), target);
    const snapshot = await this.one('presence', { frame: (id) => ({ type: 'subscribe_presence', id, ...target }) });
    this.emit('presence', snapshot);
    return snapshot;
  }

  async unsubscribePresence(target: Target): Promise<void> {
    this.presenceSubs.delete(targetKey(target));
    await this.one('ok', { frame: (id) => ({ type: 'unsubscribe_presence', id, ...target }) }).catch(notFoundIsDone);
  }

  // ---- closing ----------------------------------------------------------------------------

  /** Flush pending cursors, close the connection (1000) and reject what is still waiting. */
  close(): Promise<void> {
    if (!this.closedFlag) {
      this.receiver.acks.flush();
      this.receiver.reads.flush();
      this.shutdown(undefined);
    }
    return this.closedPromise.then(() => undefined);
  }

  // ---- the connection loop ----------------------------------------------------------------

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closedFlag) {
      if (!this.conn?.isOpen) {
        let conn: Connection;
        try {
          conn = await this.establish(attempt);
        } catch (err) {
          if (this.closedFlag) return;
          if (this.conn?.isOpen) continue; // a handover connected meanwhile
          let e = err instanceof Error ? err : new Error(String(err));
          if (e instanceof ClientUnreachableError) {
            this.emit('unreachable', e);
            // One URL and no election: the one failure says it best (and as before).
            if (this.elector === undefined && e.attempts.length === 1 && e.cause instanceof Error) e = e.cause;
          }
          if (this.isTerminal(e) || (!this.everConnected && !this.options.waitOnFirstConnect)) {
            this.shutdown(e);
            return;
          }
          attempt += 1;
          await this.pauseBeforeReconnect(e instanceof ConnectionClosedError ? e.closeCode : 1006, e.message);
          continue;
        }
        if (this.closedFlag) {
          conn.close(1000, 'client closed');
          return;
        }
        if (this.conn?.isOpen) conn.close(1000, 'not needed'); // a handover won the race
        else {
          attempt = 0;
          void this.adopt(conn);
        }
      }
      const info = await this.untilCurrentCloses();
      if (this.closedFlag) return;
      if (this.conn?.isOpen) continue;
      this.dropped();
      this.backoff.down(this.clock.now());
      if (closeAction(info.code, typeof this.options.token === 'function') === 'terminal') {
        this.shutdown(new ConnectionClosedError(info.code, info.reason));
        return;
      }
      if (this.options.reconnect === false) {
        this.shutdown(new ConnectionClosedError(info.code, info.reason));
        return;
      }
      await this.pauseBeforeReconnect(info.code, info.reason);
    }
  }

  /**
   * One round of connection attempts: the elected regions fastest first (with `edge`), then the
   * configured URLs — every one of them before the first connection, one (in turn) after. A
   * terminal refusal (auth) ends the round at once; otherwise all failing is ClientUnreachableError.
   */
  private async establish(attempt: number): Promise<Connection> {
    const tried: ConnectAttempt[] = [];
    const targets: { url: string; region?: string }[] = [];
    if (this.elector) {
      this.setStatus({ type: 'connecting', url: this.options.edge ?? '', attempt });
      const result = await this.elector.run();
      if (this.closedFlag) throw new ClientClosedError();
      for (const f of result.failures) tried.push({ region: f.region, url: f.url, error: f.error });
      for (const c of result.ranked) targets.push({ url: c.wsUrl, region: c.region });
      const best = result.ranked[0];
      this.report({ trigger: 'connect', result, current: undefined, decision: best ? 'connect' : 'none', region: best?.region, why: best ? `fastest: ${best.region} ${best.rttMs} ms` : 'no candidate answered' });
    }
    const order = this.urlOrder(attempt);
    for (const url of this.everConnected ? order.slice(0, 1) : order) targets.push({ url });
    const seen = new Set<string>();
    let last: Error | undefined;
    for (const t of targets) {
      if (seen.has(t.url)) continue;
      seen.add(t.url);
      this.setStatus({ type: 'connecting', url: t.url, attempt });
      try {
        return await this.open(t.url);
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        if (this.closedFlag || this.isTerminal(e)) throw e;
        last = e;
        tried.push({ ...(t.region === undefined ? {} : { region: t.region }), url: t.url, error: e.message });
      }
    }
    const err = new ClientUnreachableError(tried);
    if (last) (err as { cause?: unknown }).cause = last;
    throw err;
  }

  private isTerminal(err: Error): boolean {
    if (err instanceof ConnectionClosedError) return closeAction(err.closeCode, typeof this.options.token === 'function') === 'terminal';
    return err instanceof RequestFailedError || err instanceof ClientInvalidError;
  }

  private async pauseBeforeReconnect(code: number, reason: string): Promise<void> {
    const delay = this.backoff.next();
    this.setStatus({ type: 'disconnected', code, reason, reconnectInMs: delay });
    await new Promise<void>((resolve) => {
      const t = this.clock.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, delay);
      this.wake = () => {
        this.clock.clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Reconnects rotate through the URLs, the last `migrate` target first. */
  private urlOrder(attempt: number): string[] {
    const all = this.preferredUrl !== undefined ? [this.preferredUrl, ...this.urls.filter((u) => u !== this.preferredUrl)] : [...this.urls];
    const k = attempt % all.length;
    return [...all.slice(k), ...all.slice(0, k)];
  }

  private async open(url: string): Promise<Connection> {
    const id = this.nextId('a');
    let auth: AuthFrame;
    if (this.options.user !== undefined) auth = { type: 'auth', id, user: this.options.user };
    else {
      const t = this.options.token;
      auth = { type: 'auth', id, token: typeof t === 'function' ? await t() : (t ?? '') };
    }
    return Connection.open({
      WebSocket: this.WebSocket,
      url,
      auth,
      clock: this.clock,
      timeoutMs: this.connectTimeoutMs,
      onFrame: (f, c) => this.onFrame(f, c),
      onInvalid: (e) => this.emit('error', e),
    });
  }

  private async untilCurrentCloses(): Promise<CloseInfo> {
    for (;;) {
      const c = this.conn as Connection;
      const info = await c.closed;
      if (this.conn === c || this.closedFlag) return info;
    }
  }

  /**
   * Make `conn` the current connection and replay the client's state onto it. Resolves when the
   * replay is answered (rooms re-joined, presence renewed, resume answered): what a handover
   * waits for before letting the old connection go. Never rejects.
   */
  private adopt(conn: Connection): Promise<void> {
    if (this.conn && this.conn !== conn) this.dropped();
    this.conn = conn;
    this.everConnected = true;
    this.connects += 1;
    const w = conn.welcome;
    this.backoff.up(this.clock.now());
    this.setStatus({ type: 'connected', url: conn.url, region: w.region, node: w.node, session: w.session, welcome: w });
    this.readyResolve(w);
    this.heartbeat.start(conn, w.heartbeatMs);
    this.linkWatch?.start(conn);
    this.scheduleReelection();
    this.requests.connected();
    this.sender.connected();
    this.receiver.acks.flush();
    this.receiver.reads.flush();
    const renewed = [...this.presenceSubs.values()].map((target) =>
      this.one('presence', { once: true, frame: (id) => ({ type: 'subscribe_presence', id, ...target }) }).then(
        (snapshot) => this.emit('presence', snapshot),
        (err: unknown) => this.reportOwn(err),
      ),
    );
    // Rooms first, then resume: the server only replays a room to a connection that joined it.
    const rejoins = [...this.rooms].filter((r) => !this.joining.has(r)).map((room) => this.rejoin(room, conn));
    const resumed = Promise.all(rejoins).then(() => {
      if (this.conn !== conn || !conn.isOpen) return;
      return this.receiver.resumeAll((c) => this.wantsConversation(c), w.limits.maxResumeConversations);
    });
    return Promise.all([resumed, ...renewed]).then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Join `room` again on a new connection (resolves after the first attempt, which the resume
   * waits for). Refused for good (FORBIDDEN: the token changed): the room is dropped and the
   * refusal reported. A transient failure is retried in the background on this connection.
   */
  private async rejoin(room: string, conn: Connection, attempt = 0): Promise<void> {
    try {
      const f = await this.one('joined', { once: true, frame: (id) => ({ type: 'join', id, room }) });
      // A retry joins after the resume went out: catch up from the position then.
      this.receiver.joined(f.conversation, f.lastSeq, attempt > 0);
    } catch (err) {
      this.reportOwn(err);
      if (err instanceof RequestFailedError && !err.retryable) {
        this.rooms.delete(room);
        return;
      }
      if (attempt >= 5) return;
      this.clock.setTimeout(() => {
        if (this.conn === conn && conn.isOpen && this.rooms.has(room) && !this.joining.has(room)) void this.rejoin(room, conn, attempt + 1);
      }, 500 * 2 ** attempt);
    }
  }

  /** The current connection is gone (or replaced): what was in flight on it waits for the next. */
  private dropped(): void {
    this.heartbeat.stop();
    this.linkWatch?.stop();
    this.clock.clearTimeout(this.reelectTimer);
    this.reelectTimer = undefined;
    this.sender.dropped();
    this.requests.disconnected();
    this.receiver.disconnected();
  }

  private wantsConversation(conversation: string): boolean {
    const c = parseConversation(conversation);
    if (!c) return false;
    return c.kind === 'dm' || this.rooms.has(c.room);
  }

  // ---- migration and re-election ----------------------------------------------------------

  /**
   * Make before break: open `url`, adopt it, wait until its replay is answered and then
   * `handoverLingerMs` more (the new session's presence and room joins reach every region before
   * the old session's end does: no leave/join seen by peers anywhere), all within `waitMs`; then
   * close `old`. False (and `old` kept) when the new connection could not be made. If `old`
   * died meanwhile the new connection simply becomes the current one.
   */
  private async handover(url: string, old: Connection, why: string, waitMs: number): Promise<boolean> {
    let conn: Connection;
    try {
      conn = await this.open(url);
    } catch (err) {
      this.reportOwn(err);
      return false;
    }
    if (this.closedFlag || this.conn !== old) {
      conn.close(1000, 'not needed');
      return false;
    }
    const replayed = this.adopt(conn);
    if (!old.isOpen) {
      this.wake?.();
      return true;
    }
    const until = this.clock.now() + Math.max(0, waitMs);
    const wait = (ms: number, first?: Promise<void>): Promise<void> => {
      let timer: unknown;
      const t = new Promise<void>((r) => (timer = this.clock.setTimeout(r, Math.max(0, ms))));
      return Promise.race(first ? [first, t] : [t]).finally(() => this.clock.clearTimeout(timer));
    };
    await wait(until - this.clock.now(), replayed);
    await wait(Math.min(this.handoverLingerMs, until - this.clock.now()));
    if (old.isOpen) old.close(1000, why);
    return true;
  }

  /**
   * Follow `migrate`: with an election, to the fastest allowed region other than this one (the
   * frame's suggestion only when the edge cannot be asked); else to the frame's URL. Make before
   * break; when nothing can be connected the old link stays until the server closes it, and the
   * reconnect loop takes over. With an election, the `election` event (trigger `migrate`) is
   * reported once the move's outcome is known: `switch` to the region it moved to, `stay` when
   * every target failed to connect, `none` when there was nowhere to try or the draining link
   * closed first.
   */
  private migrate(frame: MigrateFrame, old: Connection): void {
    if (this.switching) return;
    this.switching = true;
    this.emit('migrate', frame);
    this.setStatus({ type: 'migrating', from: old.url, to: frame.url, reason: frame.reason });
    // Leave a margin before the server's deadline for the old connection to close cleanly.
    const waitMs = Math.max(0, Math.min(this.timeoutMs, frame.deadlineMs - 250));
    void (async () => {
      const here = old.isOpen ? old.welcome.region : undefined;
      const targets: { url: string; region: string; why: string }[] = [];
      let result: ElectionResult | undefined;
      if (this.elector) {
        result = await this.elector.run();
        const others = result.ranked.filter((c) => c.region !== here && c.region !== frame.suggestedRegion);
        const suggested = result.ranked.find((c) => c.region === frame.suggestedRegion);
        // The suggested region first when it is about as fast as the best: the node knows it is ready.
        const order = suggested && (others[0] === undefined || suggested.rttMs <= others[0].rttMs + this.electionOptions.minGainMs) ? [suggested, ...others] : [...others, ...(suggested ? [suggested] : [])];
        for (const c of order) targets.push({ url: c.wsUrl, region: c.region, why: `${c.region} ${c.rttMs} ms${c.region === frame.suggestedRegion ? ' (suggested by the node)' : ''}` });
        if (result.failures.some((f) => f.region === 'edge')) targets.push({ url: frame.url, region: frame.suggestedRegion, why: `the edge could not be asked: the node's suggestion ${frame.suggestedRegion}` });
      } else targets.push({ url: frame.url, region: frame.suggestedRegion, why: 'the node\'s suggestion' });
      let moved: (typeof targets)[number] | undefined;
      for (const t of targets) {
        if (this.closedFlag || this.conn !== old) break;
        if (await this.handover(t.url, old, 'migrated', waitMs)) {
          this.preferredUrl = t.url;
          moved = t;
          break;
        }
      }
      if (!result || this.closedFlag) return;
      if (moved) this.report({ trigger: 'migrate', result, current: here, decision: 'switch', region: moved.region, why: moved.why });
      else if (targets.length === 0) this.report({ trigger: 'migrate', result, current: here, decision: 'none', region: undefined, why: 'no other allowed region answered: the draining link is kept until the node closes it' });
      else if (this.conn !== old || !old.isOpen) this.report({ trigger: 'migrate', result, current: here, decision: 'none', region: undefined, why: 'the draining link closed before a move connected: the reconnect loop takes over' });
      else this.report({ trigger: 'migrate', result, current: here, decision: 'stay', region: here, why: 'every candidate failed to connect: the draining link is kept until the node closes it' });
    })()
      .catch((err: unknown) => this.reportOwn(err))
      .finally(() => (this.switching = false));
  }

  private scheduleReelection(): void {
    this.clock.clearTimeout(this.reelectTimer);
    this.reelectTimer = undefined;
    const every = this.electionOptions.intervalMs;
    if (!this.elector || every <= 0) return;
    const delay = every * (0.9 + 0.2 * this.random());
    this.reelectTimer = this.clock.setTimeout(() => void this.reelect('interval'), delay);
  }

  /**
   * Re-elect while connected: move (make before break) to a region clearly faster than the
   * current one — `minGainMs` and `minGainRatio` faster — and otherwise stay. Every candidate
   * failing, or the edge not answering, keeps the working link.
   */
  private async reelect(trigger: 'interval' | 'degraded'): Promise<void> {
    const old = this.conn;
    if (!this.elector || this.closedFlag || !old?.isOpen) return;
    if (this.switching) {
      // A move is under way (it reschedules when it connects); try again later if it does not.
      if (trigger === 'interval') this.scheduleReelection();
      return;
    }
    if (trigger === 'degraded') {
      const now = this.clock.now();
      if (now - this.lastDegradedElection < this.electionOptions.cooldownMs) return;
      this.lastDegradedElection = now;
    }
    this.switching = true;
    try {
      const result = await this.elector.run();
      if (this.closedFlag || this.conn !== old || !old.isOpen) return;
      const current = old.welcome.region;
      const probedHere = result.ranked.find((c) => c.region === current)?.rttMs;
      const currentMs = probedHere ?? this.linkWatch?.lastMs ?? this.heartbeat.rttMs ?? Infinity;
      const { minGainMs, minGainRatio } = this.electionOptions;
      const better = result.ranked.filter((c) => c.region !== current && c.rttMs + minGainMs <= currentMs && c.rttMs <= currentMs * (1 - minGainRatio));
      const stay = (why: string): void => {
        this.linkWatch?.settle();
        this.report({ trigger, result, current, decision: 'stay', region: current, why });
      };
      if (better.length === 0) {
        stay(result.ranked.length === 0 ? 'no candidate answered: keeping the working link' : `${current} (${currentMs} ms) is fastest or close enough`);
        return;
      }
      for (const c of better) {
        if (await this.handover(c.wsUrl, old, 're-elected', Math.min(this.timeoutMs, 5000) + this.handoverLingerMs)) {
          this.report({ trigger, result, current, decision: 'switch', region: c.region, why: `${c.region} ${c.rttMs} ms vs ${current} ${currentMs} ms` });
          return;
        }
        if (this.closedFlag || this.conn !== old) return;
      }
      stay('every faster candidate failed to connect: keeping the working link');
    } finally {
      this.switching = false;
      if (trigger === 'interval' && this.conn?.isOpen) this.scheduleReelection();
    }
  }

  private report(r: ElectionReport): void {
    this.emit('election', r);
  }

  // ---- frames -----------------------------------------------------------------------------

  /** Frames of the current connection, and of one being replaced (messages and acks still count). */
  private onFrame(frame: ServerFrame, conn: Connection): void {
    switch (frame.type) {
      case 'message':
        this.receiver.message(frame);
        return;
      case 'ack':
        this.sender.ack(frame);
        return;
      case 'receipt':
        this.emit('receipt', frame);
        return;
      case 'presence':
        if (!this.requests.answer(frame)) this.emit('presence', frame);
        return;
      case 'presence_event':
        this.emit('presence_event', frame);
        return;
      case 'joined':
      case 'left':
      case 'ok':
        this.requests.answer(frame);
        return;
      case 'heartbeat':
        if (!this.linkWatch?.pong(frame.ref)) this.heartbeat.pong(frame.ref);
        return;
      case 'resumed':
        // Replays (and gaps) of a connection being replaced are redone on the new one.
        if (conn !== this.conn) return;
        this.receiver.resumed(frame);
        this.requests.answer(frame);
        return;
      case 'gap':
        if (conn !== this.conn) return;
        this.emit('gap', frame);
        this.receiver.gap(frame);
        return;
      case 'migrate':
        if (conn === this.conn) this.migrate(frame, conn);
        return;
      case 'error':
        this.onError(frame);
        return;
      case 'welcome':
        return;
    }
  }

  private onError(frame: ErrorFrame): void {
    if (this.requests.answer(frame) || this.sender.error(frame)) return;
    this.emit('error', new RequestFailedError(frame));
  }

  // ---- helpers ----------------------------------------------------------------------------

  private async one<T extends ServerFrame['type']>(type: T, spec: { frame: (id: string) => ClientFrame; once?: boolean }): Promise<Extract<ServerFrame, { type: T }>> {
    if (this.closedFlag) throw this.closedError ?? new ClientClosedError();
    const [frame] = await this.requests.request(spec);
    if (!frame || frame.type !== type) throw new RequestFailedError({ type: 'error', code: 4034, name: 'INTERNAL_ERROR', message: `expected ${type}, got ${frame?.type ?? 'nothing'}`, retryable: false });
    return frame as Extract<ServerFrame, { type: T }>;
  }

  private write(frame: ClientFrame): boolean {
    return this.conn?.write(frame) ?? false;
  }

  private nextId(prefix: string): string {
    this.frameSeq += 1;
    return `${prefix}${this.frameSeq.toString(36)}`;
  }

  private deliver(m: Message): void {
    this.emit('message', m);
    for (const q of this.queues) q.push(m);
  }

  private emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    this.events.emit(event, value, (err) => {
      if (event !== 'error') this.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
  }

  /** Failures of requests the client made for itself: worth an event, unless the connection just dropped. */
  private reportOwn(err: unknown): void {
    if (this.closedFlag) return;
    if (err instanceof Error && err.name === 'ConnectionDroppedError') return;
    this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  private setStatus(s: ClientStatus): void {
    this.current = s;
    for (const q of this.statusQueues) q.push(s);
    this.emit('status', s);
  }

  private shutdown(err: Error | undefined): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closedError = err;
    this.heartbeat.stop();
    this.linkWatch?.stop();
    this.clock.clearTimeout(this.reelectTimer);
    this.receiver.stop();
    this.conn?.close(1000, 'client closed');
    this.wake?.();
    const reason = err ?? new ClientClosedError();
    this.requests.close(reason);
    this.sender.close(reason);
    for (const q of this.queues) q.end(err);
    this.queues.clear();
    this.readyReject(reason);
    this.setStatus(err ? { type: 'closed', error: err } : { type: 'closed' });
    for (const q of this.statusQueues) q.end();
    this.statusQueues.clear();
    this.closedResolve(err);
  }
}

/** The state asked for already holds (left a room not joined, unsubscribed what was not subscribed). */
function notFoundIsDone(err: unknown): void {
  if (err instanceof RequestFailedError && err.wireName === 'NOT_FOUND') return;
  throw err;
}

/** Create a client and wait for its first connection (rejects, closing it, if that fails). */
export async function connect(options: ClientOptions): Promise<MeridianClient> {
  const client = new MeridianClient(options);
  try {
    await client.connected();
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}
