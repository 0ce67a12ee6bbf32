/**
 * CloudEvents 1.0 over HTTP (binary and structured content modes), parsed into one wire shape
 * that every hop uses: context attributes as strings plus the data as bytes. Parsing reports
 * every problem at once (missing `id`, `source`, `type`, `specversion`, bad attribute names) as
 * `SVC_INVALID_EVENT`, so a caller fixes its event in one round trip.
 *
 * Own code rather than the `cloudevents` SDK's `HTTP.toEvent`: the node relays events between
 * hops without interpreting data, and must say what is wrong, not throw on the first problem.
 * The SDK is what workers and callers use (tests use it as the client).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { parseJsonBounded } from '../../http/json.js';
import type { Problem } from '../registry/mod.js';

/** Deepest JSON a structured-mode event (attributes level included) may nest. */
const MAX_EVENT_DEPTH = 64;

export interface WireEvent {
  /** Context attributes (required, optional, extensions), as strings; includes `datacontenttype` when known. */
  readonly attrs: Readonly<Record<string, string>>;
  readonly data: Buffer;
}

export type ContentMode = 'binary' | 'structured';

const STRUCTURED = 'application/cloudevents+json';
const BATCH = 'application/cloudevents-batch+json';
const ATTR_NAME = /^[a-z0-9]{1,20}$/;
const REQUIRED = ['id', 'source', 'type', 'specversion'] as const;

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(',') : v);

function decodeHeader(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

function checkAttrs(attrs: Record<string, string>, out: Problem[]): void {
  for (const name of REQUIRED) if (attrs[name] === undefined || attrs[name] === '') out.push({ path: name, message: `required attribute ${name} is missing` });
  if (attrs['specversion'] !== undefined && attrs['specversion'] !== '' && attrs['specversion'] !== '1.0') out.push({ path: 'specversion', message: `unsupported specversion ${JSON.stringify(attrs['specversion'])}: only 1.0` });
  for (const k of Object.keys(attrs)) if (!ATTR_NAME.test(k)) out.push({ path: k, message: 'attribute names are 1-20 lower-case letters or digits' });
}

export function invalidEvent(problems: readonly Problem[]): MeridianError {
  const list = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
  return new MeridianError(ErrorCode.SvcInvalidEvent, `invalid CloudEvent: ${list}`, { details: { problems } });
}

export const isJsonType = (ct: string | undefined): boolean => ct === undefined || /^application\/(.+\+)?json\b/i.test(ct) || /^text\/json\b/i.test(ct);

/** Parse an HTTP message as a CloudEvent; throws `SVC_INVALID_EVENT` with every problem. */
export function parseHttpEvent(headers: IncomingHttpHeaders, body: Buffer): { event: WireEvent; mode: ContentMode } {
  const ct = one(headers['content-type']);
  const problems: Problem[] = [];
  if (ct?.toLowerCase().startsWith(BATCH)) throw invalidEvent([{ path: '', message: 'batched mode is not supported: send one event per request' }]);
  if (ct?.toLowerCase().startsWith(STRUCTURED)) {
    const json = parseJsonBounded(body.toString('utf8'), MAX_EVENT_DEPTH);
    if (!json.ok && json.reason === 'depth') throw invalidEvent([{ path: 'data', message: `the event is ${json.message}` }]);
    if (!json.ok) throw invalidEvent([{ path: '', message: 'a structured-mode body must be a JSON object' }]);
    const doc = json.value;
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidEvent([{ path: '', message: 'a structured-mode body must be a JSON object' }]);
    const attrs: Record<string, string> = {};
    let data = Buffer.alloc(0);
    const d = doc as Record<string, unknown>;
    for (const [k, v] of Object.entries(d)) {
      if (k === 'data' || k === 'data_base64') continue;
      if (typeof v === 'string') attrs[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') attrs[k] = String(v);
      else if (v !== null) problems.push({ path: k, message: 'attribute values are strings, numbers or booleans' });
    }
    if (d['data_base64'] !== undefined) {
      if (typeof d['data_base64'] !== 'string') problems.push({ path: 'data_base64', message: 'must be a base64 string' });
      else data = Buffer.from(d['data_base64'], 'base64');
      if (d['data'] !== undefined) problems.push({ path: 'data', message: 'data and data_base64 are mutually exclusive' });
    } else if (d['data'] !== undefined) {
      const dct = attrs['datacontenttype'];
      if (typeof d['data'] === 'string' && !isJsonType(dct)) data = Buffer.from(d['data'], 'utf8');
      else {
        data = Buffer.from(JSON.stringify(d['data']), 'utf8');
        attrs['datacontenttype'] ??= 'application/json';
      }
    }
    checkAttrs(attrs, problems);
    if (problems.length > 0) throw invalidEvent(problems);
    return { event: { attrs, data }, mode: 'structured' };
  }
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!k.startsWith('ce-') || v === undefined) continue;
    attrs[k.slice(3)] = decodeHeader(one(v) ?? '');
  }
  if (ct !== undefined) attrs['datacontenttype'] = ct;
  if (Object.keys(attrs).every((k) => k === 'datacontenttype')) {
    throw invalidEvent([{ path: '', message: `not a CloudEvent: send ce-* headers (binary mode) or Content-Type: ${STRUCTURED} (structured mode)` }, ...REQUIRED.map((n) => ({ path: n, message: `required attribute ${n} is missing` }))]);
  }
  checkAttrs(attrs, problems);
  if (problems.length > 0) throw invalidEvent(problems);
  return { event: { attrs, data: body }, mode: 'binary' };
}

// Header values must be visible ASCII; anything else is percent-encoded (CloudEvents HTTP binding §3.1.3.2).
const encodeHeader = (v: string): string => v.replace(/[^\x21-\x24\x26-\x7e ]/g, (c) => encodeURIComponent(c));

export function toBinary(ev: WireEvent): { headers: Record<string, string>; body: Buffer } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ev.attrs)) {
    if (k === 'datacontenttype') headers['content-type'] = v;
    else headers[`ce-${k}`] = encodeHeader(v);
  }
  return { headers, body: ev.data };
}

/** The event as a structured-mode JSON document (data as JSON when it is JSON, else text or base64). */
export function toStructuredDoc(ev: WireEvent): Record<string, unknown> {
  const doc: Record<string, unknown> = { ...ev.attrs };
  if (ev.data.length === 0) return doc;
  const ct = ev.attrs['datacontenttype'];
  if (isJsonType(ct)) {
    // Not JSON after all, or too deep to re-serialize safely: carried as base64 below.
    const json = parseJsonBounded(ev.data.toString('utf8'), MAX_EVENT_DEPTH);
    if (json.ok) {
      doc['data'] = json.value;
      return doc;
    }
  } else if (ct !== undefined && /^text\//i.test(ct)) {
    doc['data'] = ev.data.toString('utf8');
    return doc;
  }
  doc['data_base64'] = ev.data.toString('base64');
  return doc;
}

export function toStructured(ev: WireEvent): { headers: Record<string, string>; body: Buffer } {
  return { headers: { 'content-type': `${STRUCTURED}; charset=utf-8` }, body: Buffer.from(JSON.stringify(toStructuredDoc(ev)), 'utf8') };
}

export function toMode(ev: WireEvent, mode: ContentMode): { headers: Record<string, string>; body: Buffer } {
  return mode === 'structured' ? toStructured(ev) : toBinary(ev);
}

/** Stored form (DLQ, invocation results): attributes and base64 data. */
export interface StoredEvent {
  readonly attrs: Readonly<Record<string, string>>;
  readonly dataBase64: string;
}

export const storeEvent = (ev: WireEvent): StoredEvent => ({ attrs: { ...ev.attrs }, dataBase64: ev.data.toString('base64') });
export const loadEvent = (s: StoredEvent): WireEvent => ({ attrs: { ...s.attrs }, data: Buffer.from(s.dataBase64, 'base64') });

/** Does an HTTP response carry a CloudEvent? (binary ce-id header, or structured content type) */
export function looksLikeEvent(headers: IncomingHttpHeaders): boolean {
  return headers['ce-id'] !== undefined || (one(headers['content-type']) ?? '').toLowerCase().startsWith(STRUCTURED);
}

/** The CloudEvent in an HTTP-like answer (binary or structured), or undefined when there is none. */
export function eventOfResponse(r: { readonly headers: Readonly<Record<string, string>>; readonly body: Buffer }): WireEvent | undefined {
  if (!looksLikeEvent(r.headers)) return undefined;
  try {
    return parseHttpEvent(r.headers, r.body).event;
  } catch {
    return undefined;
  }
}
