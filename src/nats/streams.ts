/**
 * Stream helpers nats.js does not offer as we need them: create-or-update with the meta group's
 * elections waited out, and the direct per-subject lookups (`last_by_subj`, `next_by_subj`).
 */
import type { JetStreamManager, StoredMsg, StreamConfig } from '@nats-io/jetstream';
import { ApiCode, isApiError } from './errors.js';
import { whenMetaLeader } from './retry.js';

/** A stream's config as we write it: a name and what differs from the server's defaults. */
export type StreamSpec = Partial<StreamConfig> & { name: string };

/**
 * Create the stream, or bring an existing one's limits in line with `cfg`. Placement and storage
 * cannot change on a live stream (the server refuses), so an existing stream keeps its own; the
 * rest (subjects, limits, dedupe window) is updated. Waits out a meta-leader election (a region
 * starting with its servers).
 */
export async function ensureStream(jsm: JetStreamManager, cfg: StreamSpec): Promise<void> {
  try {
    await whenMetaLeader(() => jsm.streams.add(cfg));
  } catch (err) {
    if (!isApiError(err, ApiCode.StreamNameExists)) throw err;
    const { placement: _p, storage: _s, name, ...rest } = cfg;
    await jsm.streams.update(name, rest);
  }
}

/** The last message on `subject`, or null (a direct get answered by the stream's leader). */
export async function getLast(jsm: JetStreamManager, stream: string, subject: string): Promise<StoredMsg | null> {
  return jsm.streams.getMessage(stream, { last_by_subj: subject });
}

/** First message on `subject` with stream sequence >= `from`, or null. */
export async function getNext(jsm: JetStreamManager, stream: string, subject: string, from: number): Promise<StoredMsg | null> {
  // nats.js types `getMessage` without the `next_by_subj` form; the server (>= 2.9) has it.
  return jsm.streams.getMessage(stream, { seq: from, next_by_subj: subject } as unknown as { seq: number });
}
