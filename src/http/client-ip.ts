/**
 * The client's IP address behind proxies. `X-Forwarded-For` is believed only as far as a chain of
 * trusted proxies vouches for it: starting from the socket's peer, each trusted hop's claim about
 * who connected to it is taken, right to left, until a hop is not trusted — that one is the
 * client. Anything a client writes into the header itself sits left of that point and is ignored,
 * so a client cannot choose its own location (and with it its region or residency rule).
 */
import { BlockList } from 'node:net';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { addRule, parseIp } from './ip.js';
import type { ParsedIp } from './ip.js';

export interface TrustedProxies {
  readonly rules: readonly string[];
  has(ip: ParsedIp): boolean;
}

/**
 * Trusted proxies from exact addresses, CIDRs (`10.0.0.0/8`, `fd00::/8`) and the named groups
 * `loopback`, `linklocal`, `uniquelocal`. A bad entry is a configuration error, reported at once.
 */
export function trustedProxies(rules: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const rule of rules) {
    if (!addRule(list, rule.trim())) {
      throw new MeridianError(ErrorCode.EdgeInvalidTrustedProxy, `trusted proxy "${rule}" is not an IP address, CIDR or loopback/linklocal/uniquelocal`, { details: { rule } });
    }
  }
  return { rules: [...rules], has: (ip) => list.check(ip.address, ip.family) };
}

/** One X-Forwarded-For element; some proxies append a port (`1.2.3.4:5678`, `[2001:db8::1]:443`). */
function parseHop(text: string): ParsedIp | undefined {
  const s = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(s);
  if (bracketed?.[1] !== undefined) return parseIp(bracketed[1]);
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
  return parseIp(v4port?.[1] ?? s);
}

/**
 * The client address for a request: `peer` is the socket's remote address, `forwardedFor` the
 * X-Forwarded-For header(s) (repeated headers in arrival order). Undefined only when the peer
 * address is missing or malformed (a socket already closed).
 */
export function clientIp(peer: string | undefined, forwardedFor: string | readonly string[] | undefined, trusted: TrustedProxies): string | undefined {
  const direct = peer === undefined ? undefined : parseIp(peer);
  if (direct === undefined) return undefined;
  const header = typeof forwardedFor === 'string' ? forwardedFor : (forwardedFor ?? []).join(',');
  const hops = header.split(',').map((h) => h.trim()).filter((h) => h !== '');
  let client = direct;
  for (let i = hops.length - 1; i >= 0 && trusted.has(client); i--) {
    const hop = parseHop(hops[i] ?? '');
    // A trusted proxy passed on something that is not an address ("unknown", an obfuscated
    // identifier): stop at the last address someone we trust vouched for.
    if (hop === undefined) break;
    client = hop;
  }
  return client.address;
}
