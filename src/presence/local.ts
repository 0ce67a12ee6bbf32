/**
 * This node's own presence: which sessions of which users are connected here and which rooms they
 * joined, and what the node therefore reports for each key (`desired`).
 *
 * A key's report is its session count, or 0 while the key is *held* for the grace after its last
 * session went, or nothing. Grace costs no timer per key: graces all last `graceMs`, so they end in
 * the order they start, and one FIFO queue with one timer for its head serves any number of keys
 * (a key that got a session back is skipped when its queue entry comes up).
 */

/** One key this node reports, with what the bucket holds of it from this node's last write. */
export interface LocalKey {
  readonly key: string;
  readonly kind: 'u' | 'r';
  readonly user: string;
  readonly room: string | undefined;
  readonly sessions: Set<string>;
  /** Set while held for the grace after the last session went. */
  holdUntil: number | undefined;
  /** Sessions the bucket holds from our last successful write; null: nothing (or deleted). */
  written: number | null;
  writtenRevision: number;
  writtenAt: number;
  inFlight: boolean;
  dirty: boolean;
  /** Write even if `written` already equals `desired` (re-send, re-assert, refresh). */
  force: boolean;
}

/** What this node reports for a key: sessions, 0 while held, null for nothing. */
export const desired = (k: LocalKey): number | null => (k.sessions.size > 0 ? k.sessions.size : k.holdUntil !== undefined ? 0 : null);

export interface LocalOptions {
  readonly graceMs: number;
  readonly keyOf: (kind: 'u' | 'r', user: string, room: string | undefined) => string;
  /** A key's report changed (or may have): update the view and schedule the write. */
  readonly changed: (k: LocalKey) => void;
}

const sessionKey = (user: string, session: string): string => `${user}\u0000${session}`;

export class LocalState {
  readonly keys = new Map<string, LocalKey>();
  /** Rooms each (user, session) joined, so a disconnect ends them. */
  private readonly joined = new Map<string, Set<string>>();
  private graceQueue: Array<{ k: LocalKey; until: number }> = [];
  private graceHead = 0;
  private graceTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: LocalOptions) {}

  connect(user: string, session: string): void {
    this.add(this.get('u', user, undefined), session);
  }

  /** The session is gone: it leaves its rooms too, and the user is held if it was the last. */
  disconnect(user: string, session: string): void {
    const sk = sessionKey(user, session);
    const rooms = this.joined.get(sk);
    if (rooms) {
      this.joined.delete(sk);
      for (const room of rooms) this.drop(this.keys.get(this.o.keyOf('r', user, room)), session);
    }
    this.drop(this.keys.get(this.o.keyOf('u', user, undefined)), session);
  }

  join(room: string, user: string, session: string): void {
    const sk = sessionKey(user, session);
    let rooms = this.joined.get(sk);
    if (!rooms) this.joined.set(sk, (rooms = new Set()));
    rooms.add(room);
    this.add(this.get('r', user, room), session);
  }

  leave(room: string, user: string, session: string): void {
    const sk = sessionKey(user, session);
    const rooms = this.joined.get(sk);
    if (rooms?.delete(room) && rooms.size === 0) this.joined.delete(sk);
    this.drop(this.keys.get(this.o.keyOf('r', user, room)), session);
  }

  /** Forget a key that reports nothing, holds nothing in the bucket and has no write pending. */
  forgetIfIdle(k: LocalKey): void {
    if (desired(k) === null && k.written === null && !k.inFlight && !k.dirty && this.keys.get(k.key) === k) this.keys.delete(k.key);
  }

  /** Keys reporting something (what a full re-send writes). */
  *reporting(): IterableIterator<LocalKey> {
    for (const k of this.keys.values()) if (desired(k) !== null) yield k;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
  }

  private get(kind: 'u' | 'r', user: string, room: string | undefined): LocalKey {
    const key = this.o.keyOf(kind, user, room);
    let k = this.keys.get(key);
    if (!k) {
      k = { key, kind, user, room, sessions: new Set(), holdUntil: undefined, written: null, writtenRevision: 0, writtenAt: 0, inFlight: false, dirty: false, force: false };
      this.keys.set(key, k);
    }
    return k;
  }

  private add(k: LocalKey, session: string): void {
    if (k.sessions.has(session)) return;
    k.sessions.add(session);
    k.holdUntil = undefined;
    this.o.changed(k);
  }

  private drop(k: LocalKey | undefined, session: string): void {
    if (!k || !k.sessions.delete(session)) return;
    if (k.sessions.size === 0) {
      const until = Date.now() + this.o.graceMs;
      k.holdUntil = until;
      this.graceQueue.push({ k, until });
      this.armGrace();
    }
    this.o.changed(k);
  }

  private armGrace(): void {
    if (this.graceTimer || this.stopped) return;
    const head = this.graceQueue[this.graceHead];
    if (!head) return;
    this.graceTimer = setTimeout(() => this.endGraces(), Math.max(0, head.until - Date.now()));
    this.graceTimer.unref();
  }

  private endGraces(): void {
    this.graceTimer = undefined;
    const now = Date.now();
    while (this.graceHead < this.graceQueue.length) {
      const { k, until } = this.graceQueue[this.graceHead]!;
      if (until > now) break;
      this.graceHead++;
      // Skipped when the key got a session back (holdUntil cleared) or was held again later.
      if (k.holdUntil === until && k.sessions.size === 0) {
        k.holdUntil = undefined;
        this.o.changed(k);
      }
    }
    if (this.graceHead > 1024 && this.graceHead * 2 > this.graceQueue.length) {
      this.graceQueue = this.graceQueue.slice(this.graceHead);
      this.graceHead = 0;
    }
    this.armGrace();
  }
}
