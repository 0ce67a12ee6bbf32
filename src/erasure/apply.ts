/**
 * What one region erases for a request, in its own storage only:
 * - the log: `eraseFrom(user)` / `erase(conversation)` on the region's log, which holds the
 *   conversations it homes and the replica copies it keeps;
 * - the inbox index and cursors in the region's buckets (`placed.inbox`, `placed.cursors`);
 * - for a user, their presence records in the region's presence bucket (`placed.presence`);
 * - for a user, what the region's modules keep about them (`ErasureTarget`s: dead letters and
 *   async invocation records, src/services/erase.ts says which ones carry a user).
 * Every step is idempotent: a second run finds nothing and counts zero.
 */
import type { Bus, Kv } from '../bus/types.js';
import { SqliteMessageLog } from '../log/mod.js';
import type { MessageLog } from '../log/mod.js';
import { scrubSqliteFile } from './scrub.js';
import { eraseInboxIndex, homeStateKeys } from '../messaging/mod.js';
import { parseConversation } from '../protocol/mod.js';

/** The two users of a direct conversation (none for a room: rooms have no inbox index). */
const dmUsers = (conversation: string): readonly string[] => {
  const c = parseConversation(conversation, Number.MAX_SAFE_INTEGER);
  return c?.kind === 'dm' ? c.users : [];
};
import { openKv, placed } from '../placement/mod.js';
import type { Place } from '../placement/mod.js';
import { presenceUserPatterns } from '../presence/mod.js';
import type { ErasureCounts, ErasureSubject, ErasureTarget } from './types.js';

export interface ApplyDeps {
  readonly bus: Bus;
  readonly region: string;
  /** The region's log itself (not the gated one: erasing must not wait for the gate). */
  readonly log: MessageLog;
  readonly targets: () => readonly ErasureTarget[];
  readonly bucket: (place: Place) => Promise<Kv>;
}

/** Delete every key matching any of `patterns`; how many. */
async function deleteMatching(kv: Kv, patterns: readonly string[]): Promise<number> {
  const found = new Set<string>();
  for (const p of patterns) for (const k of await kv.keys(p)) found.add(k);
  for (const k of found) await kv.delete(k);
  return found.size;
}

/** The SQLite log's file keeps pre-delete pages in its WAL until a checkpoint (scrub.ts). */
function scrubLog(log: MessageLog, erased: number): number {
  if (erased > 0 && log instanceof SqliteMessageLog) scrubSqliteFile(log.path, { vacuum: false });
  return erased;
}

/** The log part of an erasure alone (also what a copy of an erased subject's entry gets, gated-log.ts). */
export async function eraseFromLog(log: MessageLog, subject: ErasureSubject): Promise<number> {
  return scrubLog(log, 'user' in subject ? await log.eraseFrom(subject.user) : await log.erase(subject.conversation));
}

export async function applyErasure(d: ApplyDeps, subject: ErasureSubject): Promise<ErasureCounts> {
  const inbox = await d.bucket(placed.inbox(d.region));
  const cursors = await d.bucket(placed.cursors(d.region));
  if ('conversation' in subject) {
    const c = subject.conversation;
    return {
      log: await eraseFromLog(d.log, subject),
      inbox: await eraseInboxIndex(inbox, { conversation: c, users: dmUsers(c) }),
      cursors: await deleteMatching(cursors, homeStateKeys.cursorsIn(c)),
      presence: 0,
      dlq: 0,
      invocations: 0,
    };
  }
  const u = subject.user;
  const presence = await d.bucket(placed.presence(d.region));
  const counts = {
    log: await eraseFromLog(d.log, subject),
    inbox: await eraseInboxIndex(inbox, { user: u }),
    cursors: await deleteMatching(cursors, homeStateKeys.cursorsOf(u)),
    presence: await deleteMatching(presence, presenceUserPatterns(u)),
    dlq: 0,
    invocations: 0,
  };
  for (const t of d.targets()) {
    const r = await t.eraseSubject(subject);
    counts.dlq += r.dlq ?? 0;
    counts.invocations += r.invocations ?? 0;
  }
  return counts;
}

/** Opens the buckets erasure touches once, and again after a failure. */
export function bucketCache(bus: Bus): (place: Place) => Promise<Kv> {
  const open = new Map<string, Promise<Kv>>();
  return (place) => {
    let p = open.get(place.name);
    if (p === undefined) {
      p = openKv(bus, place);
      open.set(place.name, p);
      p.catch(() => open.delete(place.name));
    }
    return p;
  };
}
