/**
 * Header hygiene shared by the HTTP and WebSocket proxies: hop-by-hop headers (RFC 9110 §7.6.1,
 * plus whatever `Connection` names) are removed in both directions, and X-Forwarded-For /
 * -Host / -Proto are set so the region sees the real client.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

const HOST: readonly string[] = ['host'];
const CLOSE: ReadonlySet<string> = new Set(['close']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Header names the `Connection` header lists (lower case); none for the usual request. */
function connectionNamed(headers: IncomingHttpHeaders): ReadonlySet<string> | undefined {
  const c = headers.connection;
  // `keep-alive` names a header that is hop-by-hop anyway; `close` the usual one-word list.
  if (c === undefined || c === '' || c === 'keep-alive') return undefined;
  if (c === 'close') return CLOSE;
  return new Set(c.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== ''));
}

/**
 * A copy without hop-by-hop headers (and without `drop`). On every proxied request and response,
 * so it walks the headers once and allocates only the copy.
 */
export function endToEnd(headers: IncomingHttpHeaders, drop: readonly string[] = []): OutgoingHttpHeaders {
  const named = connectionNamed(headers);
  const out: OutgoingHttpHeaders = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || HOP_BY_HOP.has(k) || named?.has(k) === true || (drop.length > 0 && drop.includes(k))) continue;
    out[k] = v;
  }
  return out;
}

/** Headers for the upstream request: end-to-end ones plus the X-Forwarded-* set. */
export function forwardHeaders(req: IncomingMessage, drop: readonly string[] = []): OutgoingHttpHeaders {
  const out = endToEnd(req.headers, drop.length === 0 ? HOST : ['host', ...drop]);
  const prior = req.headers['x-forwarded-for'];
  const peer = req.socket.remoteAddress ?? 'unknown';
  // Appended, never replaced: the region decides how far to trust the chain (client-ip.ts).
  out['x-forwarded-for'] = prior === undefined ? peer : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}`;
  if (req.headers.host !== undefined) out['x-forwarded-host'] = req.headers.host;
  out['x-forwarded-proto'] = 'encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http';
  return out;
}
