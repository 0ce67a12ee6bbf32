/**
 * Who a request to a region node came from, behind proxies: the key of its rate limits and the
 * `from` of its audit entries. Behind the edge, haproxy or a load balancer every client arrives
 * from the proxy's address, so keyed by the TCP peer they would all share one budget (a region
 * drain's reconnect storm got 429s; one abusive client spent everyone's).
 *
 * `X-Forwarded-For` is believed only as far as trusted proxies vouch for it: from the peer, each
 * trusted hop's claim about who connected to it is taken, right to left, until a hop is not
 * trusted — the rightmost untrusted address is the client (the edge's steering walks the same
 * way: src/http/client-ip.ts, reused here). A peer that is not trusted is the client, whatever
 * it writes in the header, so a direct client cannot pick another's bucket by forging it.
 *
 * Not proxy-addr (Express): the walk is ten lines the edge already has and tests, and the
 * node wants the IPv4-mapped form folded (`::ffff:1.2.3.4` is `1.2.3.4`: one bucket per client
 * on a dual-stack listener), which src/http/ip.ts does for both.
 */
import { BlockList } from 'node:net';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { clientIp } from './client-ip.js';
import type { TrustedProxies } from './client-ip.js';
import { addRule, parseIp } from './ip.js';

export type { TrustedProxies } from './client-ip.js';

/** Trusted by default: loopback, so `meridian up`'s edge (on the same host) is believed. */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = ['loopback'];

/**
 * Why `entry` cannot be a trusted proxy (an address, a CIDR such as `10.0.0.0/8` or `fd00::/8`,
 * or one of the groups `loopback`, `linklocal`, `uniquelocal`); undefined when it can.
 */
export function trustedProxyProblem(entry: string): string | undefined {
  if (addRule(new BlockList(), entry.trim())) return undefined;
  return `${JSON.stringify(entry)} is not an IP address, a CIDR (10.0.0.0/8) or one of loopback, linklocal, uniquelocal`;
}

/** Whether `entry` trusts every address of a family: then any client can choose its address. */
export function trustsEveryone(entry: string): boolean {
  return /\/0$/.test(entry.trim()) && trustedProxyProblem(entry) === undefined;
}

/** The trusted-proxy set of a list whose entries trustedProxyProblem accepts (else INVALID_ARGUMENT). */
export function trustList(rules: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const rule of rules) {
    if (!addRule(list, rule.trim())) throw new MeridianError(ErrorCode.InvalidArgument, `trusted proxy: ${trustedProxyProblem(rule) ?? rule}`, { details: { rule } });
  }
  return { rules: [...rules], has: (ip) => list.check(ip.address, ip.family) };
}

/**
 * The client address of a request whose TCP peer is `peer` and whose X-Forwarded-For header(s)
 * are `forwardedFor`: canonical (IPv4-mapped folded, IPv6 lower case); the peer as given when it
 * is not an address at all (a socket already closed: '' then).
 */
export function resolveClientAddress(peer: string | undefined, forwardedFor: string | readonly string[] | undefined, trusted: TrustedProxies): string {
  if (forwardedFor === undefined) return (peer === undefined ? undefined : parseIp(peer)?.address) ?? peer ?? '';
  return clientIp(peer, forwardedFor, trusted) ?? peer ?? '';
}

// Resolved once per request by the server and read wherever the node names the client (limits,
// audit), so every place agrees. Keyed by the request, never its socket: a proxy reuses one
// keep-alive connection for many clients. An upgraded socket carries its one client only, so
// the upgrade's address is kept for the socket too (the session's audit entries read it).
const known = new WeakMap<object, string>();

/** Resolve `req`'s client address and remember it for clientAddress (and for `upgraded`, its socket once upgraded). */
export function admitClientAddress(req: IncomingMessage, trusted: TrustedProxies, upgraded?: Duplex): string {
  const address = resolveClientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted);
  known.set(req, address);
  if (upgraded !== undefined) known.set(upgraded, address);
  return address;
}

/** The client address admitClientAddress found for this request or upgraded socket; else its TCP peer. */
export function clientAddress(of: IncomingMessage | Duplex): string {
  const seen = known.get(of);
  if (seen !== undefined) return seen;
  const peer = ('socket' in of ? of.socket : (of as Socket)).remoteAddress;
  return (peer === undefined ? undefined : parseIp(peer)?.address) ?? peer ?? '';
}
