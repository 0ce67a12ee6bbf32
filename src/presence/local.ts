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
  /**
   * This node's sessions on the key: one id as is (nearly every key has one session), a Set only
   * from the second, none as undefined — a Set per key cost ~130 bytes per idle connection.
   */
  sessions: string | Set<string> | undefined;
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
export const desired = (k: LocalKey): number | null => {
  const n = sessionCount(k);
  return n > 0 ? n : k.holdUntil !== undefined ? 0 : null;
};

/** How many sessions of this node the key has. */
export const sessionCount = (k: LocalKey): number => (k.sessions === undefined ? 0 : typeof k.sessions === 'string' ? 1 : k.sessions.size);

/** Add a session to the key; false when it was already there. */
function addSession(k: LocalKey, session: string): boolean {
  const cur = k.sessions;
  if (cur === undefined) k.sessions = session;
  else if (typeof cur === 'string') {
    if (cur === session) return false;
    k.sessions = new Set([cur, session]);
  } else {
    if (cur.has(session)) return false;
    cur.add(session);
  }
  return true;
}

/** Remove a session from the key; false when it was not there. */
function deleteSession(k: LocalKey, session: string): boolean {
  const cur = k.sessions;
  if (cur === undefined) return false;
  if (typeof cur === 'string') {
    if (cur !== session) return false;
    k.sessions = undefined;
    return true;
  }
  if (!cur.delete(session)) return false;
  if (cur.size === 1) k.sessions = cur.values().next().value!;
  else if (cur.size === 0) k.sessions = undefined;
  return true;
}

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
      k = { key, kind, user, room, sessions: undefined, holdUntil: undefined, written: null, writtenRevision: 0, writtenAt: 0, inFlight: false, dirty: false, force: false };
      this.keys.set(key, k);
    }
    return k;
  }

  private add(k: LocalKey, session: string): void {
    if (!addSession(k, session)) return;
    k.holdUntil = undefined;
    this.o.changed(k);
  }

  private drop(k: LocalKey | undefined, session: string): void {
    if (!k || !deleteSession(k, session)) return;
    if (k.sessions === undefined) {
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
      if (k.holdUntil === until && k.sessions === undefined) {
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
