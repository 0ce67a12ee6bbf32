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
 * Start this node's presence on `bus`. `regions` lists every region of the deployment, this
 * node's (`bus.region`) included: the node writes its reports into its own region's presence
 * bucket and watches every region's (the region node passes the topology's regions). Resolves
 * once the view holds its own region's bucket and every other region's bucket was tried, or after
 * `startTimeoutMs` (default 5 s) if its own is unreachable, in which case it keeps retrying in
 * the background; regions that are down are followed as soon as they answer. Rejects with
 * `PRESENCE_INVALID` for bad ids or options.
 */
export function createPresence(bus: Bus, opts: PresenceOptions & { node: string; regions: readonly string[] } & Partial<Omit<KvPresenceOptions, 'node' | 'regions'>>): Promise<Presence> {
  return KvPresence.start(bus, opts);
}
export { userPatterns as presenceUserPatterns } from './keys.js';
