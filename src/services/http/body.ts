/**
 * Request bodies read whole (registrations, CloudEvents, small proxied bodies kept for retries),
 * with the size limit enforced while reading: a declared Content-Length over the limit is refused
 * before a byte is read, a chunked body as soon as it crosses it.
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { parseJsonBounded } from '../../http/json.js';

export function tooLarge(limit: number): MeridianError {
  return new MeridianError(ErrorCode.SvcBodyTooLarge, `request body over the limit of ${limit} bytes`, { details: { limitBytes: limit } });
}

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

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) {
    // Let the client see the answer: read (and drop) nothing more, the module closes the socket.
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => failed || resolve(Buffer.concat(chunks)));
    req.on('error', (err) => failed || ((failed = true), reject(err)));
  });
}

/** Deepest JSON a request body (registration, heartbeat) may nest. */
export const MAX_JSON_DEPTH = 32;

/** Parse a JSON body; `INVALID_ARGUMENT` when it is not JSON or nests deeper than MAX_JSON_DEPTH. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.length === 0) return undefined;
  const json = parseJsonBounded(body.toString('utf8'), MAX_JSON_DEPTH);
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
