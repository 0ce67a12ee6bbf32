/**
 * The topology's `retention` section as the message log's per-conversation policy
 * (src/log/retention.ts): the first rule whose `*` glob matches the conversation id gives its
 * limits; no match means the log's global options (keep forever unless a caller set them). Every region builds the same function from the same file,
 * so a conversation's home and its replica apply the same limits to the same entries.
 */
import { globMatch } from '../protocol/glob.js';
import type { Topology } from './schema.js';

const DAY_MS = 86_400_000;

/**
 * A conversation's limits, as the message log applies them (src/log/retention.ts); an absent or
 * 0 field means no limit of that kind. Declared here, under the rules that give them, so the
 * residency rules can tighten them without importing the log; the log's types re-export both.
 */
export interface RetentionPolicy {
  /** Entries whose timestamp is older than this many milliseconds are gone. */
  readonly maxAgeMs?: number;
  /** Only the newest N seqs are kept: entries with `seq <= last - maxCount` are gone. */
  readonly maxCount?: number;
}

/** Which policy a conversation has; undefined: the log's global options. */
export type RetentionOf = (conversation: string) => RetentionPolicy | undefined;

/**
 * The log policy of `topology`, or undefined when nothing limits retention (keep forever).
 * `alsoOf` adds limits from elsewhere (the residency rules applying to a conversation,
 * src/residency): per limit, the strictest wins.
 */
export function retentionPolicy(topology: Pick<Topology, 'retention'>, alsoOf?: (conversation: string) => RetentionPolicy | undefined): RetentionOf | undefined {
  const rules = topology.retention.conversations.map((r) => ({ match: r.match, policy: policyOf(r) }));
  if (rules.length === 0 && alsoOf === undefined) return undefined;
  // No match: undefined, i.e. the log's global options (none in a deployment: keep forever).
  const own = (conversation: string): RetentionPolicy | undefined => rules.find((r) => globMatch(r.match, conversation))?.policy;
  if (alsoOf === undefined) return own;
  return (conversation) => strictest(own(conversation), alsoOf(conversation));
}

/** A topology limit (days, count) as the log's policy (ms, count). */
export function policyOf(r: { readonly maxAgeDays?: number | undefined; readonly maxCount?: number | undefined }): RetentionPolicy {
  return { ...(r.maxAgeDays === undefined ? {} : { maxAgeMs: Math.round(r.maxAgeDays * DAY_MS) }), ...(r.maxCount === undefined ? {} : { maxCount: r.maxCount }) };
}

/** The smaller of each limit; undefined when neither limits anything. */
export function strictest(a: RetentionPolicy | undefined, b: RetentionPolicy | undefined): RetentionPolicy | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const min = (x: number | undefined, y: number | undefined): number | undefined => (x === undefined ? y : y === undefined ? x : Math.min(x, y));
  const maxAgeMs = min(a.maxAgeMs, b.maxAgeMs);
  const maxCount = min(a.maxCount, b.maxCount);
  return { ...(maxAgeMs === undefined ? {} : { maxAgeMs }), ...(maxCount === undefined ? {} : { maxCount }) };
}
