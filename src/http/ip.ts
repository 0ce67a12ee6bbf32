/**
 * IP address helpers shared by the GeoIP lookup and the client-IP resolver: one canonical form
 * (IPv4-mapped IPv6 such as `::ffff:1.2.3.4` becomes `1.2.3.4`, so a rule written for IPv4 matches
 * a dual-stack socket's address) and the address ranges that never locate a client.
 */
import { BlockList, isIP } from 'node:net';
import { ErrorCode, MeridianError } from '../errors/mod.js';

export type IpFamily = 'ipv4' | 'ipv6';

export interface ParsedIp {
  readonly address: string;
  readonly family: IpFamily;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** Canonical address and family, or undefined when `text` is not a plain IP address. */
export function parseIp(text: string): ParsedIp | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  // A zone index (fe80::1%eth0) names an interface of this host; the address without it is what
  // BlockList and the GeoIP database understand.
  const zone = s.indexOf('%');
  if (zone > 0 && isIP(s) === 6) s = s.slice(0, zone);
  const mapped = MAPPED_V4.exec(s);
  if (mapped?.[1] !== undefined && isIP(mapped[1]) === 4) return { address: mapped[1], family: 'ipv4' };
  const v = isIP(s);
  if (v === 4) return { address: s, family: 'ipv4' };
  if (v === 6) return { address: s.toLowerCase(), family: 'ipv6' };
  return undefined;
}

/** Like parseIp, but a malformed address is a typed error (`EDGE_INVALID_IP`). */
export function requireIp(text: string): ParsedIp {
  const ip = parseIp(text);
  if (ip === undefined) throw new MeridianError(ErrorCode.EdgeInvalidIp, 'not an IP address', { details: { ip: text.slice(0, 64) } });
  return ip;
}

/** Named groups usable in trusted-proxy lists, as proxy-addr and Express spell them. */
export const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** Add `a.b.c.d`, `a.b.c.d/n`, an IPv6 form of either, or a named group to a BlockList. */
export function addRule(list: BlockList, rule: string): boolean {
  const named = NAMED_RANGES[rule];
  if (named !== undefined) {
    for (const r of named) addRule(list, r);
    return true;
  }
  const slash = rule.indexOf('/');
  const ip = parseIp(slash < 0 ? rule : rule.slice(0, slash));
  if (ip === undefined) return false;
  if (slash < 0) {
    list.addAddress(ip.address, ip.family);
    return true;
  }
  const bits = rule.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= (ip.family === 'ipv4' ? 32 : 128))) return false;
  list.addSubnet(ip.address, prefix, ip.family);
  return true;
}

// Private, loopback, link-local, CGNAT, "this network", documentation and multicast ranges: none
// of them says where a client is, so a lookup answers null instead of a misleading location.
const NOWHERE = new BlockList();
for (const r of [
  'loopback', 'linklocal', 'uniquelocal', '0.0.0.0/8', '100.64.0.0/10', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '240.0.0.0/4', '::/128', '2001:db8::/32', 'ff00::/8',
]) addRule(NOWHERE, r);

export function isNonPublic(ip: ParsedIp): boolean {
  return NOWHERE.check(ip.address, ip.family);
}
