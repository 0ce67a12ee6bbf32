/**
 * Presence: who is online, where, and who is in which room, seen alike from every region.
 *
 * One `Presence` per region node. The node reports its own connections and room joins; the
 * implementation shares them through the bus (one KV bucket per region, `mrd-presence-<region>`,
 * written only by that region's nodes, so both the embedded bus and NATS carry it) and keeps a
 * converged view of every region's reports for reads and events.
 * Higher layers (the region node, the HTTP API) use only this contract.
 *
 * Contract (MUST / MUST NOT):
 * - `connect`/`disconnect`/`join`/`leave` MUST NOT throw on a bus outage and MUST return at once;
 *   the report reaches the other regions asynchronously (write-behind), and is re-sent after the
 *   bus comes back. Calls are idempotent per `(user, session)` / `(room, user, session)`.
 *   `disconnect(user, session)` also ends every room join of that session (as `leave` would).
 * - A change MUST become visible to `user()`/`room()` and as a `PresenceChange` in every
 *   region within about one link RTT plus `flushDelayMs` (default ≤ 50 ms) of the call.
 * - A user is online while at least one session of theirs is connected on any node. When the
 *   last session of a user on a node goes, that node MUST keep reporting the user for `graceMs`
 *   (default 3000): a reconnect within the grace (same node or another) MUST NOT produce
 *   `offline` + `online` events, and likewise leave + join for rooms.
 * - A node that dies stops refreshing its reports; every other region MUST consider its
 *   sessions gone after at most `ttlMs` (default 15 000) and emit the `offline`/`leave` events.
 * - A region that is down or cut off MUST NOT stop presence elsewhere: regions that still reach
 *   each other go on exchanging changes. A region that reaches its own servers but not region X
 *   MUST keep X's users online for `graceMs` beyond the ttl (they may be reconnecting to another
 *   region, and then stay online there without a flap) and then consider them gone. A node that
 *   reaches no servers at all, not even its region's, MUST keep its last view (drop nobody)
 *   until it hears again. Once X is back, every view converges again.
 * - `online`/`offline` events MUST be emitted once per transition of the user's overall state
 *   (first session anywhere / last session gone everywhere), not per session or region;
 *   `join`/`leave` once per transition of the user's membership of the room (any session).
 *   Handlers are called after the call that caused a change has returned (never re-entrantly
 *   from `connect`/`join`…), in order; a throwing handler does not affect the others.
 * - `user()` of a never-seen user MUST return `{ online: false, regions: [], connections: 0 }`;
 *   `lastSeenAt` is set when this view saw the user go offline.
 * - `room()` MUST list members (users with at least one session joined) sorted by user id, at
 *   most `limit` of them, with `truncated` when more exist.
 * - `close()` MUST withdraw this node's reports (best effort), stop timers and watches, and be
 *   idempotent; afterwards reads MUST reject with `PRESENCE_CLOSED`, and `connect`, `join` and
 *   `watch` throw it; `disconnect` and `leave` do nothing (close already withdrew everything, and
 *   session clean-up during a shutdown must not trip over the order things close in). Withdrawal is immediate, without the grace: a draining
 *   node that wants reconnects elsewhere to cause no flap disconnects its sessions and waits
 *   `graceMs` before closing.
 * - Invalid ids (user and room ids as `checkId` in protocol/conversation.ts; sessions strings
 *   of 1-1024 characters) and invalid `room()` limits (1-10 000, default 100) are refused with
 *   `PRESENCE_INVALID`, thrown by the four report calls and rejected by the reads.
 */

export interface PresenceState {
  readonly user: string;
  readonly online: boolean;
  /**
   * Regions where the user has at least one session, sorted. A region whose last session of the
   * user went less than `graceMs` ago stays listed (contributing 0 connections) until its grace ends.
   */
  readonly regions: readonly string[];
  /** Sessions of the user across all nodes. */
  readonly connections: number;
  /** Milliseconds since the epoch when this view saw the user go offline; absent while online. */
  readonly lastSeenAt?: number;
}

export interface RoomPresence {
  readonly room: string;
  readonly members: readonly PresenceState[];
  readonly truncated: boolean;
}

export type PresenceChange =
  | { readonly kind: 'online' | 'offline'; readonly user: string; readonly region: string; readonly timestamp: number }
  | { readonly kind: 'join' | 'leave'; readonly user: string; readonly room: string; readonly region: string; readonly timestamp: number };

export interface PresenceOptions {
  /** Grace after a user's last session on this node before it is reported gone. Default 3000 ms. */
  graceMs?: number;
  /** A node's reports expire this long after its last refresh. Default 15 000 ms. */
  ttlMs?: number;
  /** Coalesce local changes for at most this long before writing them. Default 20 ms. */
  flushDelayMs?: number;
}

export interface Presence {
  /** The region and node this presence reports for. */
  readonly region: string;
  readonly node: string;
  connect(user: string, session: string): void;
  disconnect(user: string, session: string): void;
  join(room: string, user: string, session: string): void;
  leave(room: string, user: string, session: string): void;
  user(user: string): Promise<PresenceState>;
  room(room: string, opts?: { limit?: number }): Promise<RoomPresence>;
  /** Changes as this region's view sees them. Returns the unsubscribe function. */
  watch(handler: (change: PresenceChange) => void): () => void;
  close(): Promise<void>;
}
