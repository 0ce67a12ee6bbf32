/** What both DLQ implementations share: option checks, ordering, typed errors. */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { AttemptRecord, DeadLetter, ListOptions } from './types.js';

export const closedError = (): MeridianError => new MeridianError(ErrorCode.BusClosed, 'the dead-letter queue is closed');
export const notFound = (id: string): MeridianError => new MeridianError(ErrorCode.SvcNotFound, `no dead letter ${JSON.stringify(id)}`, { details: { id } });

export function checkList(opts: ListOptions): number {
  const limit = opts.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new MeridianError(ErrorCode.InvalidArgument, 'limit must be an integer in [1, 1000]', { details: { limit } });
  return limit;
}

export const byAge = (a: DeadLetter, b: DeadLetter): number => a.deadAt - b.deadAt || a.id.localeCompare(b.id);

export function withReplay(letter: DeadLetter, outcome: AttemptRecord): DeadLetter {
  return { ...letter, replays: [...letter.replays, outcome], state: outcome.ok ? 'replayed' : letter.state };
}

/** Letters after the cursor, in order, filtered, paged. */
export function page(sorted: readonly DeadLetter[], opts: ListOptions, limit: number): DeadLetter[] {
  let from = 0;
  if (opts.after !== undefined) {
    const i = sorted.findIndex((l) => l.id === opts.after);
    from = i < 0 ? 0 : i + 1;
  }
  return sorted.slice(from).filter((l) => opts.function === undefined || l.function === opts.function).slice(0, limit);
}
