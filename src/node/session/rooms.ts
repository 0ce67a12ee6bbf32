/**
 * Room and presence frames of one session: `join` / `leave` (at most `maxRoomsPerConnection`
 * rooms), `presence_query`, `subscribe_presence` / `unsubscribe_presence` (at most
 * MAX_PRESENCE_SUBSCRIPTIONS). Made on first use; `stop()` undoes everything when the session ends.
 */
import { roomConversation } from '../../protocol/mod.js';
import type { JoinFrame, LeaveFrame, PresenceQueryFrame, SubscribePresenceFrame, UnsubscribePresenceFrame } from '../../protocol/mod.js';
import { mayJoin, mayQueryPresence, noRoomCapability } from '../access-rules.js';
import type { Identity } from '../auth.js';
import { framedDelivery } from '../deliver.js';
import { roomKey, userKey } from '../presence-hub.js';
import type { PresenceKey, PresenceListener } from '../presence-hub.js';
import type { SessionPort } from './port.js';

/** Most presence subscriptions one connection may hold. */
export const MAX_PRESENCE_SUBSCRIPTIONS = 256;

export class RoomFrames implements PresenceListener {
  /** Joined rooms, each with its unsubscribe. */
  #rooms: Map<string, () => void> | undefined;
  #presenceKeys: Set<PresenceKey> | undefined;

  constructor(
    readonly s: SessionPort,
    readonly id: Identity,
  ) {}

  join(f: JoinFrame): void {
    const { s, id } = this;
    if (!mayJoin(id, f.room)) return s.error('FORBIDDEN', `room: ${noRoomCapability(f.room)}`, f.id, { path: 'room' });
    const conversation = roomConversation(f.room);
    const rooms = (this.#rooms ??= new Map<string, () => void>());
    const max = s.ctx.opts.limits.maxRoomsPerConnection;
    if (!rooms.has(f.room) && rooms.size >= max) return s.error('INVALID_FIELD', `room: at most ${max} rooms per connection: leave one first`, f.id, { path: 'room' });
    const stream = s.streams.stream(conversation);
    if (!rooms.has(f.room)) {
      rooms.set(f.room, s.ctx.messaging.onRoom(f.room, (d) => {
        try {
          if (!s.deliverable()) return;
          if (d.kind === 'message') stream.live(d);
          else if (s.out.live(framedDelivery(d))) s.ctx.metrics.framesOut.inc('receipt');
        } catch (err) {
          s.ctx.onInternalError(err, 'delivery');
        }
      }));
      s.ctx.presence.join(f.room, id.user, s.id);
    }
    stream.run(async () => {
      const last = await s.ctx.messaging.lastSeq(conversation);
      stream.startAfter(last);
      s.send({ type: 'joined', ref: f.id, room: f.room, conversation, lastSeq: last });
    }).catch((err: unknown) => {
      // Not joined after all: undo, so a retry starts clean.
      this.#dropRoom(f.room);
      s.fail(err, f.id);
    });
  }

  leave(f: LeaveFrame): void {
    if (!this.#dropRoom(f.room)) return this.s.error('NOT_FOUND', `room: not joined to ${JSON.stringify(f.room.slice(0, 64))}`, f.id, { path: 'room' });
    this.s.send({ type: 'left', ref: f.id, room: f.room, conversation: roomConversation(f.room) });
  }

  #dropRoom(room: string): boolean {
    const unsubscribe = this.#rooms?.get(room);
    if (!unsubscribe) return false;
    unsubscribe();
    this.#rooms?.delete(room);
    this.s.streams.drop(roomConversation(room));
    this.s.ctx.presence.leave(room, this.id.user, this.s.id);
    return true;
  }

  async presenceQuery(f: PresenceQueryFrame): Promise<void> {
    if (!this.#presenceAllowed(f)) return;
    try {
      await this.#presenceSnapshot(f);
    } catch (err) {
      this.s.fail(err, f.id);
    }
  }

  async subscribePresence(f: SubscribePresenceFrame): Promise<void> {
    const { s } = this;
    if (!this.#presenceAllowed(f)) return;
    const key = f.user !== undefined ? userKey(f.user) : roomKey(f.room!);
    const keys = (this.#presenceKeys ??= new Set());
    if (!keys.has(key) && keys.size >= MAX_PRESENCE_SUBSCRIPTIONS) {
      return s.error('INVALID_FIELD', `at most ${MAX_PRESENCE_SUBSCRIPTIONS} presence subscriptions per connection`, f.id, { path: f.user !== undefined ? 'user' : 'room' });
    }
    keys.add(key);
    // Subscribe before the snapshot, so no change between the two is missed.
    s.ctx.hub.subscribe(key, this);
    try {
      await this.#presenceSnapshot(f);
    } catch (err) {
      s.fail(err, f.id);
    }
  }

  unsubscribePresence(f: UnsubscribePresenceFrame): void {
    const key = f.user !== undefined ? userKey(f.user) : roomKey(f.room!);
    if (!this.#presenceKeys?.delete(key)) return this.s.error('NOT_FOUND', 'not subscribed to this presence', f.id, { path: f.user !== undefined ? 'user' : 'room' });
    this.s.ctx.hub.unsubscribe(key, this);
    this.s.send({ type: 'ok', ref: f.id });
  }

  /** A presence event this session subscribed to (droppable when the client is behind). */
  presenceEvent(frame: Buffer): void {
    if (this.s.out.live(frame)) this.s.ctx.metrics.framesOut.inc('presence_event');
  }

  #presenceAllowed(f: PresenceQueryFrame | SubscribePresenceFrame): boolean {
    if (mayQueryPresence(this.id, f)) return true;
    this.s.error('FORBIDDEN', `room: ${noRoomCapability(f.room ?? '')}`, f.id, { path: 'room' });
    return false;
  }

  async #presenceSnapshot(f: PresenceQueryFrame | SubscribePresenceFrame): Promise<void> {
    const { s } = this;
    if (f.user !== undefined) {
      const st = await s.ctx.presence.user(f.user);
      if (s.closed) return;
      s.send({ type: 'presence', ref: f.id, of: 'user', state: { ...st, regions: [...st.regions] } });
      return;
    }
    const r = await s.ctx.presence.room(f.room!, { limit: s.ctx.opts.maxPresenceMembers });
    if (s.closed) return;
    s.send({ type: 'presence', ref: f.id, of: 'room', room: r.room, truncated: r.truncated, members: r.members.map((m) => ({ ...m, regions: [...m.regions] })) });
  }

  /** The session ended: leave every room (messages and presence) and drop every presence subscription. */
  stop(): void {
    const { s, id } = this;
    for (const [room, unsubscribe] of this.#rooms ?? []) {
      unsubscribe();
      s.ctx.presence.leave(room, id.user, s.id);
    }
    this.#rooms = undefined;
    for (const key of this.#presenceKeys ?? []) s.ctx.hub.unsubscribe(key, this);
    this.#presenceKeys = undefined;
  }
}
