/**
 * The topology's `retention` section as the message log's per-conversation policy
 * (src/log/retention.ts): the first rule whose `*` glob matches the conversation id gives its
 * limits; no match means the log's global options (keep forever unless a caller set them). Every region builds the same function from the same file,
 * so a conversation's home and its replica apply the same limits to the same entries.
 */
import { globMatch } from '../protocol/glob.js';
import type { RetentionPolicy, RetentionOf } from '../log/retention.js';
import type { Topology } from './schema.js';

const DAY_MS = 86_400_000;

/** The log policy of `topology`, or undefined when it has no retention rule (keep forever). */
export function retentionPolicy(topology: Pick<Topology, 'retention'>): RetentionOf | undefined {
  const rules = topology.retention.conversations.map((r) => ({
    match: r.match,
    policy: { ...(r.maxAgeDays === undefined ? {} : { maxAgeMs: Math.round(r.maxAgeDays * DAY_MS) }), ...(r.maxCount === undefined ? {} : { maxCount: r.maxCount }) } satisfies RetentionPolicy,
  }));
  if (rules.length === 0) return undefined;
  // No match: undefined, i.e. the log's global options (none in a deployment: keep forever).
  return (conversation) => rules.find((r) => globMatch(r.match, conversation))?.policy;
}
