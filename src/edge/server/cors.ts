/**
 * CORS for browser clients of the edge: allowed origins from configuration, preflights answered
 * by the edge itself (never proxied, so every region answers the same way), and
 * X-Meridian-Region exposed so a page can read which region served it. Small enough to write
 * here; the common npm middleware expects Express-style `next` and adds nothing we need.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors/mod.js';
import type { CorsOptions } from './options.js';
import { sendError } from '../../http/respond.js';

const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

export function originAllowed(cors: CorsOptions, origin: string): boolean {
  return cors.origins === '*' || cors.origins.includes(origin);
}

/**
 * Apply CORS to a request. Returns true when the request was a preflight and has been answered.
 * A disallowed origin gets no CORS headers (the browser then blocks the page from reading the
 * answer); a disallowed preflight gets 403 with a typed error so the failure is visible.
 */
export function applyCors(cors: CorsOptions | undefined, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
  if (cors === undefined || origin === undefined) return false;
  if (!originAllowed(cors, origin)) {
    if (preflight) sendError(res, 403, ErrorCode.EdgeOriginNotAllowed, 'origin not allowed');
    return preflight;
  }
  // Any origin: '*' and never credentials (reflecting any origin with credentials would let every
  // site act with the visitor's cookies). Listed origins: echoed, with credentials when asked.
  if (cors.origins === '*') res.setHeader('access-control-allow-origin', '*');
  else {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    if (cors.credentials === true) res.setHeader('access-control-allow-credentials', 'true');
  }
  if (!preflight) {
    res.setHeader('access-control-expose-headers', 'X-Meridian-Region, Retry-After');
    return false;
  }
  res.setHeader('access-control-allow-methods', METHODS);
  const asked = req.headers['access-control-request-headers'];
  if (asked !== undefined) res.setHeader('access-control-allow-headers', asked);
  res.setHeader('access-control-max-age', String(cors.maxAgeS ?? 600));
  res.writeHead(204);
  res.end();
  return true;
}
