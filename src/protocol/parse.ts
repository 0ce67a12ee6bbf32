/**
 * Decoding and encoding frames. `parseClientFrame` is the region node's only way to read a
 * client frame: it never throws, whatever the input, and every failure is an `error` frame the
 * node can send back as is (with `ref` whenever the frame's `id` can be found).
 *
 * Order of checks, cheapest first: size (before any parsing, so a huge frame costs nothing),
 * UTF-8, JSON, object, `type`, the type's schema, then the body's depth and size.
 */

import type { z } from 'zod';
import { CLIENT_FRAME_TYPES, schemasFor } from './client-frames.js';
import type { ClientFrame, ClientFrameType } from './client-frames.js';
import { errorFrame } from './error-frames.js';
import { isRef } from './fields.js';
import type { WireParams } from './fields.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { ProtocolLimits } from './limits.js';
import { scanRef } from './ref.js';
import { SERVER_FRAME_TYPES, serverFrameSchemas } from './server-frames.js';
import type { ErrorFrame, ServerFrame, ServerFrameType } from './server-frames.js';

export type ClientParseResult = { ok: true; frame: ClientFrame } | { ok: false; error: ErrorFrame; ref?: string };

const CLIENT_TYPES: ReadonlySet<string> = new Set(CLIENT_FRAME_TYPES);
const SERVER_TYPES: ReadonlySet<string> = new Set(SERVER_FRAME_TYPES);
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');
const MAX_PATH_IN_MESSAGE = 128;

function fail(error: ErrorFrame): ClientParseResult {
  return error.ref === undefined ? { ok: false, error } : { ok: false, error, ref: error.ref };
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Nesting depth of a parsed JSON value, counted without recursion (deep input must not blow the stack). */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

function formatPath(path: readonly PropertyKey[]): string {
  const p = path.map(String).join('.');
  return p.length > MAX_PATH_IN_MESSAGE ? `${p.slice(0, MAX_PATH_IN_MESSAGE)}…` : p;
}

function issueToError(issue: z.core.$ZodIssue, ref: string | undefined): ErrorFrame {
  if (issue.code === 'unrecognized_keys') {
    const path = formatPath([...issue.path, issue.keys[0] ?? '']);
    return errorFrame('INVALID_FIELD', `${path}: unknown field`, { ref, path });
  }
  const path = formatPath(issue.path);
  const wire = issue.code === 'custom' ? (issue.params as WireParams | undefined)?.wire : undefined;
  const text = issue.message.replace(/^Invalid input: /, '');
  const message = path === '' ? text : `${path}: ${text}`;
  return errorFrame(wire ?? 'INVALID_FIELD', message, { ref, path: path === '' ? undefined : path });
}

/** Decode, size-check and parse one client frame. Never throws. */
export function parseClientFrame(data: string | Uint8Array, limits: ProtocolLimits = DEFAULT_LIMITS): ClientParseResult {
  try {
    return parseUnsafe(data, limits);
  } catch {
    // Defence in depth: every path above is meant to be total, but a parser bug must cost one
    // error frame, not the connection or the process.
    return fail(errorFrame('BAD_FRAME', 'the frame could not be parsed'));
  }
}

function parseUnsafe(data: string | Uint8Array, limits: ProtocolLimits): ClientParseResult {
  let text: string;
  if (typeof data === 'string') {
    // A UTF-16 code unit is 1-3 UTF-8 bytes: only count bytes when the length alone can't decide.
    if (data.length > limits.maxFrameBytes || (data.length * 3 > limits.maxFrameBytes && utf8Length(data) > limits.maxFrameBytes)) {
      return tooLarge(scanRef(data), limits);
    }
    text = data;
  } else {
    if (data.byteLength > limits.maxFrameBytes) return tooLarge(scanRef(utf8Lenient.decode(data.subarray(0, 1024))), limits);
    try {
      text = utf8.decode(data);
    } catch {
      return fail(errorFrame('BAD_FRAME', 'the frame is not valid UTF-8', { ref: validRef(scanRef(utf8Lenient.decode(data.subarray(0, 1024))), limits) }));
    }
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(errorFrame('BAD_FRAME', 'the frame is not valid JSON', { ref: validRef(scanRef(text), limits) }));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(errorFrame('BAD_FRAME', 'a frame must be a JSON object'));
  }
  const obj = value as Record<string, unknown>;
  const ref = validRef(obj.id, limits);

  const type = obj.type;
  if (type === undefined) return fail(errorFrame('INVALID_FIELD', 'type: is required', { ref, path: 'type' }));
  if (typeof type !== 'string') return fail(errorFrame('INVALID_FIELD', 'type: must be a string', { ref, path: 'type' }));
  if (!CLIENT_TYPES.has(type)) {
    return fail(errorFrame('UNKNOWN_TYPE', `type: unknown frame type ${JSON.stringify(type.slice(0, 64))}`, { ref, path: 'type' }));
  }

  const schema = schemasFor(limits)[type as ClientFrameType];
  const parsed = schema.safeParse(obj);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(issue ? issueToError(issue, ref) : errorFrame('INVALID_FIELD', 'invalid frame', { ref }));
  }
  const frame: ClientFrame = parsed.data;

  if (frame.type === 'send') {
    if (depthExceeds(frame.body, limits.maxBodyDepth)) {
      return fail(errorFrame('INVALID_FIELD', `body: nested deeper than ${limits.maxBodyDepth} levels`, { ref, path: 'body' }));
    }
    const bytes = utf8Length(JSON.stringify(frame.body));
    if (bytes > limits.maxBodyBytes) {
      return fail(errorFrame('BODY_TOO_LARGE', `body: ${bytes} bytes, more than the ${limits.maxBodyBytes} allowed`, { ref, path: 'body' }));
    }
  }
  return { ok: true, frame };
}

function validRef(value: unknown, limits: ProtocolLimits): string | undefined {
  return isRef(value, limits.maxRefLength) ? value : undefined;
}

function tooLarge(ref: string | undefined, limits: ProtocolLimits): ClientParseResult {
  return fail(errorFrame('FRAME_TOO_LARGE', `the frame exceeds ${limits.maxFrameBytes} bytes`, { ref: validRef(ref, limits) }));
}

/** The text of a server frame. */
export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

/** The text of a client frame (for the TypeScript client and tests). */
export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}

/**
 * Client side: parse a server frame. Unknown frame types are reported as `ignorable` (a newer
 * server may send them; a client MUST skip them); anything else that fails is a server bug.
 * Never throws.
 */
export type ServerParseResult = { ok: true; frame: ServerFrame } | { ok: false; ignorable: boolean; reason: string };

export function parseServerFrame(data: string | Uint8Array): ServerParseResult {
  try {
    const text = typeof data === 'string' ? data : utf8.decode(data);
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, ignorable: false, reason: 'not a JSON object' };
    const type = (value as Record<string, unknown>).type;
    if (typeof type !== 'string') return { ok: false, ignorable: false, reason: 'type: must be a string' };
    if (!SERVER_TYPES.has(type)) return { ok: false, ignorable: true, reason: `unknown frame type ${JSON.stringify(type.slice(0, 64))}` };
    const parsed = serverFrameSchemas[type as ServerFrameType].safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, ignorable: false, reason: issue ? `${formatPath(issue.path)}: ${issue.message}` : 'invalid frame' };
    }
    return { ok: true, frame: parsed.data };
  } catch (err) {
    return { ok: false, ignorable: false, reason: err instanceof Error ? err.message : 'unparseable frame' };
  }
}
