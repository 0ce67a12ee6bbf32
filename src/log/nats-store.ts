/**
 * Low-level pieces of the NATS message log (nats.ts): stream configs, the entry header, the
 * per-conversation head, and error mapping onto LOG_* codes. What is not the log's own (creating
 * streams, per-subject lookups, the nats.js error mapping) is in the NATS adapter, src/nats.
 *
 * An entry is one JetStream message on `mrd.log.<log>.<conversation>`; its payload is the body
 * and one header, `Mrd-Log`, carries the JSON meta (seq, id, from, timestamp, body kind, user
 * headers). One header rather than one per field: NATS header values are trimmed and limited to
 * one line, JSON text survives both.
 */
import { headers as natsHeaders, nanos } from '@nats-io/transport-node';
import type { MsgHdrs } from '@nats-io/transport-node';
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { getLast, mapNatsError } from '../nats/mod.js';
import type { StreamSpec } from '../nats/mod.js';
import { subjects } from '../bus/subjects.js';
import { logStreams } from '../placement/mod.js';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { BodyKind, CheckedLogOptions } from './validate.js';

export const META_HDR = 'Mrd-Log';

export interface EntryMeta {
  seq: number;
  id: string;
  from: string;
  ts: number;
  kind: BodyKind;
  h: Record<string, string>;
}

export function metaHeaders(meta: EntryMeta, msgId: string | undefined): MsgHdrs {
  const h = natsHeaders();
  h.set(META_HDR, JSON.stringify(meta));
  if (msgId !== undefined) h.set('Nats-Msg-Id', msgId);
  return h;
}

/** The meta of a stored entry; a message without one was not written by this log. */
export function metaOf(h: MsgHdrs | undefined): EntryMeta {
  const raw = h?.get(META_HDR);
  if (!raw) throw new MeridianError(ErrorCode.LogUnavailable, 'a log stream message lacks its Mrd-Log header');
  return JSON.parse(raw) as EntryMeta;
}

export interface StreamNames {
  log: string;
  head: string;
}

export function streamConfigs(name: string, home: string, replicas: number, o: CheckedLogOptions): { log: StreamSpec; head: StreamSpec } {
  // With a per-conversation policy the stream has no limits of its own: they would apply to
  // every conversation alike. The log's sweep enforces the policy (nats-retention.ts).
  const perConversation = o.retention !== undefined;
  const common = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
    placement: { cluster: home, tags: [] },
  };
  return {
    log: {
      ...common,
      name: logStreams(name).stream,
      subjects: [subjects.allLog(name)],
      max_age: o.maxAgeMs > 0 && !perConversation ? nanos(o.maxAgeMs) : 0,
      max_msgs_per_subject: o.maxPerConversation > 0 && !perConversation ? o.maxPerConversation : -1,
      duplicate_window: nanos(o.dedupeWindowMs),
      // Room for the body plus the meta header (ids, sender, user headers).
      max_msg_size: o.maxBodyBytes + 16 * 1024,
    },
    // One message per conversation: its highest seq. No max_age: it must outlive the entries.
    head: { ...common, name: logStreams(name).headStream, subjects: [subjects.allLogHead(name)], max_msgs_per_subject: 1 },
  };
}

/** A conversation's head: the highest seq recorded, and the head message's stream sequence. */
export interface Head {
  seq: number;
  streamSeq: number;
}

export async function readHead(jsm: JetStreamManager, stream: string, subject: string): Promise<Head> {
  const m = await getLast(jsm, stream, subject);
  if (!m) return { seq: 0, streamSeq: 0 };
  const seq = Number(m.string());
  return { seq: Number.isSafeInteger(seq) ? seq : 0, streamSeq: m.seq };
}

/** Turn nats.js failures into LOG_* errors (BUS_* meanings carried over). */
export function toLogError(err: unknown, details: Record<string, unknown>, closed: boolean): MeridianError {
  if (err instanceof MeridianError && err.code.startsWith('LOG_')) return err;
  const m = mapNatsError(err, 'kv', details, closed);
  const code = m.code === ErrorCode.BusClosed ? ErrorCode.LogClosed : ErrorCode.LogUnavailable;
  const text = m.code === ErrorCode.BusClosed ? 'the message log is closed' : m.message.replace('the KV bucket', 'the message log');
  return new MeridianError(code, text, { cause: err, details: m.details });
}
