/**
 * Header hygiene of every proxy (the edge's HTTP and WebSocket proxies, the services proxy):
 * hop-by-hop headers (RFC 9110 §7.6.1, plus whatever `Connection` names) never cross it in
 * either direction, X-Forwarded-For / -Host / -Proto tell the upstream who called, and a proxy
 * that detects loops stamps `Via` with its own token.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * The region that served an answer: every region node writes it on its own answers (HTTP and the
 * WebSocket 101); the edge's proxies and the services proxy set it where they answer for one.
 */
export const REGION_HEADER = 'x-meridian-region';

const HOST: readonly string[] = ['host'];
const CLOSE: ReadonlySet<string> = new Set(['close']);

/** Header names the `Connection` header lists (lower case); none for the usual request. */
function connectionNamed(headers: IncomingHttpHeaders): ReadonlySet<string> | undefined {
  const c = headers.connection;
  // `keep-alive` names a header that is hop-by-hop anyway; `close` is the usual one-word list:
  // neither builds a set (this is on every proxied request and response).
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

/** A region's token in `Via` (RFC 9110 §7.6.3): a request that already carries it is a loop. */
export const viaToken = (region: string): string => `1.1 meridian-${region}`;

export interface ForwardOptions {
  /** Request headers not to pass on (besides hop-by-hop ones and `host`). */
  readonly drop?: readonly string[];
  /**
   * The forwarding region, for a proxy that refuses loops (the services proxy): it is sent as
   * `X-Meridian-Via` and its token appended to `Via`. The edge leaves both alone.
   */
  readonly via?: string;
}

/** Headers for the upstream request: end-to-end ones plus the X-Forwarded-* set (and `Via`). */
export function forwardHeaders(req: IncomingMessage, opts: ForwardOptions = {}): OutgoingHttpHeaders {
  const drop = opts.drop ?? [];
  const out = endToEnd(req.headers, drop.length === 0 ? HOST : ['host', ...drop]);
  const prior = req.headers['x-forwarded-for'];
  const peer = req.socket.remoteAddress ?? 'unknown';
  // Appended, never replaced: the upstream decides how far to trust the chain (client-ip.ts).
  out['x-forwarded-for'] = prior === undefined ? peer : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}`;
  if (req.headers.host !== undefined) out['x-forwarded-host'] = req.headers.host;
  out['x-forwarded-proto'] = 'encrypted' in req.socket && req.socket.encrypted === true ? 'https' : 'http';
  if (opts.via !== undefined) {
    out['x-meridian-via'] = opts.via;
    const priorVia = req.headers['via'];
    out['via'] = priorVia === undefined || priorVia === '' ? viaToken(opts.via) : `${priorVia}, ${viaToken(opts.via)}`;
  }
  return out;
}
