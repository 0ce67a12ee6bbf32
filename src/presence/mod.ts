/**
 * Presence (src/presence): who is online where, and who is in which room, alike in every region.
 * The contract is types.ts; `createPresence` builds the one implementation, on the bus KV
 * (kv.ts), so it runs on the embedded bus and on NATS.
 */
import type { Bus } from '../bus/types.js';
import { KvPresence } from './kv.js';
import type { KvPresenceOptions } from './kv.js';
import type { Presence, PresenceOptions } from './types.js';

export type { Presence, PresenceChange, PresenceOptions, PresenceState, RoomPresence } from './types.js';
export { KvPresence } from './kv.js';
export type { KvPresenceOptions } from './kv.js';

/**
 * Start this node's presence on `bus`. `bucketRegion` homes the bucket and must be the same for
 * every node of a deployment (the region node passes the topology's first region). Resolves once
 * the view holds the bucket's state, or after `startTimeoutMs` (default 5 s) if the bucket is
 * unreachable, in which case it keeps retrying in the background. Rejects with
 * `PRESENCE_INVALID` for bad ids or options.
 */
export function createPresence(bus: Bus, opts: PresenceOptions & { node: string; bucketRegion: string } & Partial<Omit<KvPresenceOptions, 'node' | 'bucketRegion'>>): Promise<Presence> {
  return KvPresence.start(bus, opts);
}
