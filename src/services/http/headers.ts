/**
 * Header hygiene of the service proxy: hop-by-hop headers (RFC 9110 §7.6.1, plus whatever
 * `Connection` names) never cross it, X-Forwarded-* tell the worker who called, and the
 * registration token (Authorization to the node) is never forwarded to a worker.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

// On every proxied request in both directions: no Set or array built unless `Connection` names
// extra headers (rare: keep-alive is the default in HTTP/1.1).
export function endToEnd(headers: IncomingHttpHeaders, drop: readonly string[] = []): OutgoingHttpHeaders {
  const conn = headers.connection;
  const named = conn === undefined || conn === 'keep-alive' || conn === 'close' ? undefined : new Set(conn.split(',').map((s) => s.trim().toLowerCase()));
  const out: OutgoingHttpHeaders = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || HOP_BY_HOP.has(k) || named?.has(k) || (drop.length > 0 && drop.includes(k))) continue;
    out[k] = v;
  }
  return out;
}

/** This region's token in `Via` (RFC 9110 §7.6.3): a request that already carries it is a loop. */
export const viaToken = (region: string): string => `1.1 meridian-${region}`;

export function forwardHeaders(req: IncomingMessage, via: string): OutgoingHttpHeaders {
  const out = endToEnd(req.headers, ['host']);
  const prior = req.headers['x-forwarded-for'];
  const peer = req.socket.remoteAddress ?? 'unknown';
  out['x-forwarded-for'] = prior === undefined ? peer : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}`;
  if (req.headers.host !== undefined) out['x-forwarded-host'] = req.headers.host;
  out['x-forwarded-proto'] = 'encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http';
  out['x-meridian-via'] = via;
  const priorVia = req.headers['via'];
  out['via'] = priorVia === undefined || priorVia === '' ? viaToken(via) : `${priorVia}, ${viaToken(via)}`;
  return out;
}
