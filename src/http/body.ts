/**
 * Request bodies read whole (node sends and erasures, registrations, CloudEvents, small proxied
 * bodies kept for retries), with the size limit enforced while reading: a declared
 * Content-Length over the limit is refused before a byte is kept, a chunked body as soon as it
 * crosses it.
 *
 * A refused body is drained, never destroyed: leaving a `for await` over the request destroys it
 * with its socket, and a keep-alive client that had already sent its next request on that
 * socket saw it reset (found by the fuzz suite). Here the rest of the body is read and dropped,
 * so the 413 is answered and the connection serves the next request; a caller that would rather
 * not wait for a huge body adds `Connection: close` to its 413.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, MeridianError, httpStatus, isMeridianError } from '../errors/mod.js';
import { parseJsonBounded } from './json.js';
import { sendError } from './respond.js';

export interface BodyLimit {
  /** Most bytes kept. */
  readonly bytes: number;
  /** The code an oversize body is refused with (the caller's: SVC_BODY_TOO_LARGE, FRAME_TOO_LARGE…). */
  readonly code: ErrorCode;
  readonly message?: string;
}

/** The error readBody rejects with: 413 by the status table; `details.limitBytes` says the limit. */
export function tooLarge(limit: BodyLimit): MeridianError {
  return new MeridianError(limit.code, limit.message ?? `request body over the limit of ${limit.bytes} bytes`, { details: { limitBytes: limit.bytes } });
}

/** Content-Length as a number; undefined when absent or not a non-negative integer. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function hasBody(req: IncomingMessage): boolean {
  const len = declaredLength(req);
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len > 0);
}

/** The whole body, at most `limit` bytes; rejects with a 413 MeridianError past it. */
export function readBody(req: IncomingMessage, limit: BodyLimit): Promise<Buffer> {
  const max = limit.bytes;
  const refuse = (): MeridianError => tooLarge(limit);
  const declared = declaredLength(req);
  if (declared !== undefined && declared > max) {
    // Read (and drop) the body so the answer can be read and the connection reused.
    req.resume();
    return Promise.reject(refuse());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return; // draining: see the file comment
      size += c.length;
      if (size > max) {
        failed = true;
        chunks.length = 0;
        reject(refuse());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => failed || resolve(Buffer.concat(chunks)));
    req.on('error', (err) => failed || ((failed = true), reject(err)));
  });
}

/**
 * readBody for a handler that answers the refusal itself: the body, or undefined after answering
 * `{ error: { code, message } }` (413). A body found too large while reading is answered with
 * `Connection: close`, so a huge upload is not read to its end; a declared one, already being
 * dropped, keeps the connection for the next request.
 */
export async function readBodyOrRefuse(req: IncomingMessage, res: ServerResponse, limit: BodyLimit): Promise<Buffer | undefined> {
  try {
    return await readBody(req, limit);
  } catch (err) {
    if (!isMeridianError(err, limit.code)) throw err;
    const declared = declaredLength(req);
    sendError(res, httpStatus(err.code), err.code, err.message, undefined, declared !== undefined && declared > limit.bytes ? {} : { connection: 'close' });
    return undefined;
  }
}

/** Deepest JSON a request body (registration, heartbeat) may nest by default. */
export const MAX_JSON_DEPTH = 32;

/**
 * Parse a JSON body (undefined when empty); `INVALID_ARGUMENT` (400) when it is not JSON or nests
 * deeper than `maxDepth`, checked before anything recurses over it (src/http/json.ts).
 */
export async function readJson(req: IncomingMessage, limit: BodyLimit, maxDepth = MAX_JSON_DEPTH): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.length === 0) return undefined;
  const json = parseJsonBounded(body.toString('utf8'), maxDepth);
  if (!json.ok) throw new MeridianError(ErrorCode.InvalidArgument, json.reason === 'depth' ? `the body is ${json.message}` : 'the body is not valid JSON');
  return json.value;
}

/** Decode one path segment; a malformed escape is the caller's mistake (400), not a crash. */
export function decodePart(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new MeridianError(ErrorCode.InvalidArgument, `malformed percent-encoding in path segment ${JSON.stringify(s)}`);
  }
}
