/**
 * Input checks and body encoding shared by every `MessageLog` implementation, so both refuse
 * exactly the same input with the same codes before touching their store.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { RetentionOf } from './retention.js';
import type { AppendInput, LogBody, LogEntry, LogOptions, ReadOptions } from './types.js';

export const MAX_CONVERSATION = 256;
export const MAX_ID = 128;
export const MAX_FROM = 256;
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
export const DEFAULT_DEDUPE_WINDOW_MS = 120_000;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** Body kinds as stored: raw bytes, or JSON text. */
export type BodyKind = 'bytes' | 'json';

export interface EncodedAppend {
  id: string;
  /** Whether `id` came from the caller (and so takes part in dedupe). */
  keyed: boolean;
  from: string;
  kind: BodyKind;
  body: Uint8Array;
  headers: Record<string, string>;
  /** The lowest seq the append may take (AppendInput.minSeq); 0: none. */
  minSeq: number;
}

function invalid(message: string, details: Record<string, unknown>): MeridianError {
  return new MeridianError(ErrorCode.LogInvalidArgument, message, { details });
}

// Control characters would break NATS headers and log lines; ids and senders are identifiers.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

export function assertConversation(conversation: unknown): asserts conversation is string {
  if (typeof conversation !== 'string' || conversation.length === 0 || conversation.length > MAX_CONVERSATION) {
    throw new MeridianError(ErrorCode.LogInvalidConversation, `a conversation id is 1-${MAX_CONVERSATION} characters`, {
      details: { conversation: typeof conversation === 'string' ? conversation.slice(0, 64) : typeof conversation },
    });
  }
}

function assertName(what: 'id' | 'from', value: unknown, max: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || CONTROL.test(value)) {
    throw invalid(`${what} must be 1-${max} characters without control characters`, { [what]: typeof value === 'string' ? value.slice(0, 64) : typeof value });
  }
}

export function encodeBody(body: LogBody, maxBytes: number): { kind: BodyKind; bytes: Uint8Array } {
  let kind: BodyKind = 'bytes';
  let bytes: Uint8Array;
  if (body instanceof Uint8Array) {
    bytes = body;
  } else {
    let text: string | undefined;
    try {
      text = JSON.stringify(body);
    } catch (err) {
      throw new MeridianError(ErrorCode.LogInvalidArgument, 'the body is not JSON-serialisable', { cause: err });
    }
    if (text === undefined) throw invalid('the body must be bytes or a JSON value', { body: typeof body });
    kind = 'json';
    bytes = new TextEncoder().encode(text);
  }
  if (bytes.length > maxBytes) {
    throw new MeridianError(ErrorCode.LogBodyTooLarge, `the body is ${bytes.length} bytes, more than the ${maxBytes} allowed`, {
      details: { bytes: bytes.length, max: maxBytes },
    });
  }
  return { kind, bytes };
}

export function decodeBody(kind: BodyKind, bytes: Uint8Array): LogBody {
  return kind === 'json' ? (JSON.parse(new TextDecoder().decode(bytes)) as LogBody) : bytes;
}

export function checkAppend(conversation: string, input: AppendInput, maxBodyBytes: number): EncodedAppend {
  assertConversation(conversation);
  if (typeof input !== 'object' || input === null) throw invalid('append needs { from, body }', {});
  if (input.id !== undefined) assertName('id', input.id, MAX_ID);
  assertName('from', input.from, MAX_FROM);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) {
    if (!HEADER_NAME.test(k) || k === '__proto__' || typeof v !== 'string' || /[\r\n]/.test(v)) {
      throw invalid(`invalid header ${JSON.stringify(k)}: names are HTTP tokens (not __proto__), values one line`, { header: k });
    }
    headers[k] = v;
  }
  const minSeq = input.minSeq ?? 0;
  if (!Number.isSafeInteger(minSeq) || minSeq < 0) throw invalid('minSeq must be a whole number ≥ 0', { minSeq });
  const { kind, bytes } = encodeBody(input.body, maxBodyBytes);
  return { id: input.id ?? randomUUID(), keyed: input.id !== undefined, from: input.from, kind, body: bytes, headers, minSeq };
}

/** A replicated entry as it will be stored: everything the source assigned, body encoded. */
export interface EncodedStore extends EncodedAppend {
  conversation: string;
  seq: number;
  ts: number;
}

/**
 * Checks of `store`: the same as append's (conversation, id, from, headers, body size), with the
 * id required, and the seq (integer >= 1) and timestamp (integer ms >= 0) the source assigned.
 */
export function checkStore(entry: LogEntry, maxBodyBytes: number): EncodedStore {
  if (typeof entry !== 'object' || entry === null) throw invalid('store needs a log entry', {});
  assertConversation(entry.conversation);
  assertName('id', entry.id, MAX_ID);
  if (!Number.isSafeInteger(entry.seq) || entry.seq < 1) throw invalid('seq must be an integer >= 1', { seq: entry.seq });
  if (!Number.isSafeInteger(entry.timestamp) || entry.timestamp < 0) throw invalid('timestamp must be an integer >= 0 (ms since the epoch)', { timestamp: entry.timestamp });
  if (typeof entry.headers !== 'object' || entry.headers === null) throw invalid('headers must be an object', {});
  const e = checkAppend(entry.conversation, { id: entry.id, from: entry.from, body: entry.body, headers: entry.headers }, maxBodyBytes);
  return { ...e, conversation: entry.conversation, seq: entry.seq, ts: entry.timestamp };
}

/** The entries of a `storeMany` call (an array; each is checked when its turn comes). */
export function checkBatch(entries: readonly LogEntry[]): readonly LogEntry[] {
  const list: unknown = entries;
  if (!Array.isArray(list)) throw invalid('storeMany needs an array of log entries', {});
  return entries;
}

/** LOG_OUT_OF_ORDER for a store that is not `last + 1` (or conflicts with the stored entry). */
export function outOfOrder(e: EncodedStore, last: number, conflict: boolean): MeridianError {
  const why = conflict
    ? `seq ${e.seq} is already stored with another id than ${JSON.stringify(e.id)}`
    : e.seq <= last
      ? `seq ${e.seq} is not stored any more (the conversation is at ${last}) and cannot be stored again`
      : `seq ${e.seq} is not the next one (the conversation is at ${last})`;
  return new MeridianError(ErrorCode.LogOutOfOrder, why, {
    details: { conversation: e.conversation, seq: e.seq, id: e.id, last, ...(conflict ? { conflict: true } : {}) },
  });
}

/**
 * The error of `storeMany` when entry `index` failed: the entry's own code and details, plus how
 * far the batch got (`index` entries before it were accepted, `stored` of them newly stored).
 */
export function batchError(err: MeridianError, index: number, stored: number): MeridianError {
  return new MeridianError(err.code, `entry ${index} of the batch: ${err.message}`, { cause: err, details: { ...err.details, index, stored } });
}

export function checkRead(conversation: string, opts: ReadOptions = {}): { after: number; limit: number } {
  assertConversation(conversation);
  const after = opts.after ?? 0;
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(after) || after < 0) throw invalid('after must be an integer >= 0', { after });
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw invalid(`limit must be an integer from 1 to ${MAX_LIMIT}`, { limit });
  return { after, limit };
}

export function checkFrom(from: string): void {
  assertName('from', from, MAX_FROM);
}

/** The shared options as the stores keep them: numbers normalised, the policy function as given. */
export type CheckedLogOptions = Required<Omit<LogOptions, 'retention'>> & { retention: RetentionOf | undefined };

/** Normalised shared options; invalid values are refused (only the dedupe window is capped). */
export function checkLogOptions(opts: LogOptions): CheckedLogOptions {
  if (opts.retention !== undefined && typeof opts.retention !== 'function') throw invalid('retention must be a function of the conversation id', {});
  const out = {
    dedupeWindowMs: opts.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS,
    maxAgeMs: opts.maxAgeMs ?? 0,
    maxPerConversation: opts.maxPerConversation ?? 0,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v < 0) throw invalid(`${k} must be an integer >= 0`, { [k]: v });
  }
  if (out.dedupeWindowMs < 1) throw invalid('dedupeWindowMs must be at least 1 ms', { dedupeWindowMs: out.dedupeWindowMs });
  if (out.maxBodyBytes < 1) throw invalid('maxBodyBytes must be at least 1', { maxBodyBytes: out.maxBodyBytes });
  // A retry must find its original: JetStream refuses a window longer than max_age for this reason.
  if (out.maxAgeMs > 0 && out.dedupeWindowMs > out.maxAgeMs) out.dedupeWindowMs = out.maxAgeMs;
  return { ...out, retention: opts.retention };
}

export function closedError(): MeridianError {
  return new MeridianError(ErrorCode.LogClosed, 'the message log is closed');
}
