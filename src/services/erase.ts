/**
 * Erasure in the services module (src/erasure asks, docs/residency.md "Erasure"): which dead
 * letters and async invocation records carry a user, and removing them.
 *
 * The rule: an event carries user U when its CloudEvents `subject` attribute is U, or its
 * extension attribute `mrduser` is U (CloudEvents extension names are lower-case alphanumerics).
 * A dead letter carries U when its stored event does; an invocation record when the event it was
 * submitted with did (kept as `users`) or its result event does. Payloads are not searched: the
 * module cannot tell a user id in arbitrary data from any other string, so producers that want
 * erasure to reach an event name its user in those attributes.
 */
import { SqliteDeadLetterQueue } from './dlq/mod.js';
import type { DeadLetterQueue } from './dlq/mod.js';
import { scrubSqliteFile } from '../erasure/scrub.js';
import type { InvocationStore } from './functions/invocations.js';

export const USER_EXTENSION = 'mrduser';

/** The users an event's attributes name. */
export function usersOfEvent(attrs: Readonly<Record<string, string>>): string[] {
  return [...new Set([attrs['subject'], attrs[USER_EXTENSION]].filter((v): v is string => typeof v === 'string' && v !== ''))];
}

const PAGE = 1000;

/** Remove what the DLQ and the invocation store keep about `user`; the counts. */
export async function eraseUserFromServices(dlq: DeadLetterQueue, invocations: InvocationStore, user: string): Promise<{ dlq: number; invocations: number }> {
  const doomed: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await dlq.list({ limit: PAGE, ...(after === undefined ? {} : { after }) });
    for (const l of page) if (usersOfEvent(l.event.attrs).includes(user)) doomed.push(l.id);
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }
  let letters = 0;
  for (const id of doomed) if (await dlq.delete(id)) letters++;
  // The DLQ file has no secure_delete: VACUUM drops the freed pages, the checkpoint the WAL's copies.
  if (letters > 0 && dlq instanceof SqliteDeadLetterQueue) scrubSqliteFile(dlq.file, { vacuum: true });
  const records = invocations.eraseWhere((inv) => (inv.users ?? []).includes(user) || (inv.result?.event !== undefined && usersOfEvent(inv.result.event.attrs).includes(user)));
  return { dlq: letters, invocations: records };
}
