/**
 * Presence subscriptions of this node's sessions: one `presence.watch` for the whole node, and
 * a map from what is watched (a user, a room) to the sessions that asked, so an event is encoded
 * and framed once however many sessions want it.
 */
import type { Presence, PresenceChange } from '../presence/types.js';
import { encodeServerFrame } from '../protocol/mod.js';
import type { PresenceEventFrame } from '../protocol/mod.js';
import { frameText } from './deliver.js';

export interface PresenceListener {
  /** Write a presence event frame (droppable when the client is behind). */
  presenceEvent(frame: Buffer): void;
}

export type PresenceKey = `u:${string}` | `r:${string}`;

export const userKey = (user: string): PresenceKey => `u:${user}`;
export const roomKey = (room: string): PresenceKey => `r:${room}`;

export class PresenceHub {
  readonly #subs = new Map<PresenceKey, Set<PresenceListener>>();
  readonly #stop: () => void;

  constructor(presence: Presence) {
    this.#stop = presence.watch((c) => this.#onChange(c));
  }

  subscribe(key: PresenceKey, l: PresenceListener): void {
    let set = this.#subs.get(key);
    if (!set) this.#subs.set(key, (set = new Set()));
    set.add(l);
  }

  unsubscribe(key: PresenceKey, l: PresenceListener): void {
    const set = this.#subs.get(key);
    if (!set) return;
    set.delete(l);
    if (set.size === 0) this.#subs.delete(key);
  }

  #onChange(c: PresenceChange): void {
    const key = c.kind === 'join' || c.kind === 'leave' ? roomKey(c.room) : userKey(c.user);
    const set = this.#subs.get(key);
    if (!set || set.size === 0) return;
    const frame: PresenceEventFrame = { type: 'presence_event', event: c.kind, user: c.user, region: c.region, timestamp: c.timestamp };
    if (c.kind === 'join' || c.kind === 'leave') frame.room = c.room;
    const bytes = frameText(encodeServerFrame(frame));
    for (const l of set) l.presenceEvent(bytes);
  }

  close(): void {
    this.#stop();
    this.#subs.clear();
  }
}
