/**
 * Header hygiene shared by the HTTP and WebSocket proxies: hop-by-hop headers (RFC 9110 §7.6.1,
 * plus whatever `Connection` names) are removed in both directions, and X-Forwarded-For /
 * -Host / -Proto are set so the region sees the real client.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** A copy without hop-by-hop headers (and without `drop`). */
export function endToEnd(headers: IncomingHttpHeaders, drop: readonly string[] = []): OutgoingHttpHeaders {
  const named = (headers.connection ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  const skip = new Set([...HOP_BY_HOP, ...named, ...drop]);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !skip.has(k)) out[k] = v;
  return out;
}

/** Headers for the upstream request: end-to-end ones plus the X-Forwarded-* set. */
export function forwardHeaders(req: IncomingMessage, drop: readonly string[] = []): OutgoingHttpHeaders {
  const out = endToEnd(req.headers, ['host', ...drop]);
  const prior = req.headers['x-forwarded-for'];
  const peer = req.socket.remoteAddress ?? 'unknown';
  // Appended, never replaced: the region decides how far to trust the chain (client-ip.ts).
  out['x-forwarded-for'] = prior === undefined ? peer : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}`;
  if (req.headers.host !== undefined) out['x-forwarded-host'] = req.headers.host;
  out['x-forwarded-proto'] = 'encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http';
  return out;
}
