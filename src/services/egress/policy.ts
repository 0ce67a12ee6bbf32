/**
 * Where the service mesh may send requests (docs/services.md, "Egress policy"). A worker URL is
 * chosen by whoever holds the registration token, and every region node then connects to it: left
 * open, that token reaches the node's own listeners, cloud metadata services and private ranges
 * (server-side request forgery). So addresses are checked twice: at registration (literal IPs and
 * known metadata names, so a mistake is a 400) and at connect time (every address a name resolves
 * to, so a DNS answer that changes after registration — rebinding — cannot lead anywhere else).
 *
 * Always refused: link-local (169.254/16, fe80::/10, where cloud metadata lives), the metadata
 * addresses and names, the unspecified and broadcast addresses. Loopback only with
 * `allowLoopback` (dev mode: workers on this machine). Private and shared ranges (10/8,
 * 172.16/12, 192.168/16, 100.64/10, fc00::/7) only when `allow` lists them — VPN and overlay
 * workers live there. Public addresses are allowed unless `allow` is given with `only: true`.
 * A region's own entries (`regions.<name>.allow`) add to `allow` on that region's nodes: each
 * region reaches its own overlay or VPC. Never a region node's own listener, nor another
 * region's (listeners.ts), whatever the lists say: matched by address and port.
 */
import { BlockList, isIP } from 'node:net';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { egressEntryProblem } from '../../topology/egress.js';
import { isListener, normalHost } from './listeners.js';
import type { Listener } from './listeners.js';

export interface EgressOptions {
  /** CIDRs (`10.77.0.0/16`), addresses, host names or `*.suffix` patterns workers may use. */
  readonly allow?: readonly string[];
  /** Workers on loopback (127.0.0.0/8, ::1): dev mode and tests. Default false. */
  readonly allowLoopback?: boolean;
  /** Only what `allow` lists (public addresses too must be listed). Default false. */
  readonly only?: boolean;
  /** Per region: entries added to `allow` on that region's nodes (the topology's `egress.regions`). */
  readonly regions?: Readonly<Record<string, { readonly allow?: readonly string[] }>>;
  /** The region whose `regions` entry applies. */
  readonly region?: string;
  /**
   * The region nodes' listeners (this node's, once it listens, and the region URLs it knows),
   * read at every check: a worker URL may never point there.
   */
  readonly listeners?: () => Iterable<Listener>;
  /** Name resolution (default the system's, `dns.lookup`); injected by tests that play DNS rebinding. */
  readonly resolve?: typeof dnsLookup;
}

export type EgressVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata', 'metadata.azure.internal', 'instance-data', 'instance-data.ec2.internal']);

function subnets(list: BlockList, entries: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']>): BlockList {
  for (const [net, prefix, type] of entries) list.addSubnet(net, prefix, type);
  return list;
}

const ALWAYS_DENIED = subnets(new BlockList(), [
  ['169.254.0.0', 16, 'ipv4'],
  ['0.0.0.0', 8, 'ipv4'],
  ['255.255.255.255', 32, 'ipv4'],
  ['100.100.100.200', 32, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
  ['fd00:ec2::254', 128, 'ipv6'],
  ['::', 128, 'ipv6'],
]);
const LOOPBACK = subnets(new BlockList(), [
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);
const PRIVATE = subnets(new BlockList(), [
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
]);

const family = (ip: string): 'ipv4' | 'ipv6' => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** `::ffff:10.0.0.1` is 10.0.0.1 for every rule. */
function unmap(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

export class EgressPolicy {
  readonly #allowed = new BlockList();
  readonly #names: string[] = [];
  readonly #suffixes: string[] = [];
  readonly #loopback: boolean;
  readonly #only: boolean;
  /**
   * `host()` verdicts by host name as written. A verdict depends on the name and this policy's
   * fixed lists only, and the proxy asks for the same few worker hosts on every request (a
   * literal address costs a SocketAddress per BlockList check: ~4 % of a proxied request).
   * Bounded: a registry holds few distinct hosts; past the bound the map starts again.
   */
  readonly #hosts = new Map<string, EgressVerdict>();

  constructor(readonly options: EgressOptions = {}) {
    this.#loopback = options.allowLoopback === true;
    this.#only = options.only === true;
    const regions = options.regions;
    const own = options.region !== undefined && regions !== undefined && Object.hasOwn(regions, options.region) ? (regions[options.region]!.allow ?? []) : [];
    for (const raw of [...(options.allow ?? []), ...own]) {
      // Malformed entries are refused by the topology's validation; skipped here, never thrown.
      if (egressEntryProblem(raw) !== undefined) continue;
      const entry = raw.trim().toLowerCase();
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      if (cidr && isIP(cidr[1]!) !== 0) this.#allowed.addSubnet(cidr[1]!, Number(cidr[2]), family(cidr[1]!));
      else if (isIP(entry) !== 0) this.#allowed.addAddress(entry, family(entry));
      else if (entry.startsWith('*.')) this.#suffixes.push(entry.slice(1));
      else if (entry !== '') this.#names.push(entry);
    }
  }

  #nameListed(host: string): boolean {
    return this.#names.includes(host) || this.#suffixes.some((s) => host.endsWith(s));
  }

  /** May a request go to this IP address (what a name resolved to, or a literal)? */
  address(ipRaw: string, host?: string): EgressVerdict {
    const ip = unmap(ipRaw);
    const t = family(ip);
    if (ALWAYS_DENIED.check(ip, t)) return { ok: false, reason: `${ip} is link-local, unspecified or a metadata address` };
    const listed = this.#allowed.check(ip, t) || (host !== undefined && this.#nameListed(host));
    if (LOOPBACK.check(ip, t)) return this.#loopback ? { ok: true } : { ok: false, reason: `${ip} is loopback (allowed only in dev mode)` };
    if (listed) return { ok: true };
    if (PRIVATE.check(ip, t)) return { ok: false, reason: `${ip} is a private address not listed in egress.allow` };
    return this.#only ? { ok: false, reason: `${ip} is not listed in egress.allow` } : { ok: true };
  }

  /**
   * The registration-time check of a URL's host: literal addresses fully, names only against
   * the metadata list (their addresses are checked at connect time).
   */
  host(hostname: string): EgressVerdict {
    let v = this.#hosts.get(hostname);
    if (v === undefined) {
      if (this.#hosts.size >= 4096) this.#hosts.clear();
      v = this.#hostVerdict(hostname);
      this.#hosts.set(hostname, v);
    }
    return v;
  }

  #hostVerdict(hostname: string): EgressVerdict {
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
    if (isIP(host) !== 0) return this.address(host);
    if (METADATA_NAMES.has(host)) return { ok: false, reason: `${host} is a cloud metadata service` };
    if (host === 'localhost' || host.endsWith('.localhost')) return this.#loopback ? { ok: true } : { ok: false, reason: `${host} is loopback (allowed only in dev mode)` };
    if (this.#only && !this.#nameListed(host)) return { ok: false, reason: `${host} is not listed in egress.allow` };
    return { ok: true };
  }

  /** `host(hostname)`, and not a region node's listener (the registration-time check of a URL). */
  endpoint(hostname: string, port: number): EgressVerdict {
    const named = this.host(hostname);
    if (!named.ok) return named;
    return this.#listener(hostname, port) ?? named;
  }

  #listener(host: string, port: number): EgressVerdict | undefined {
    const listeners = this.options.listeners?.();
    if (listeners === undefined || !isListener(listeners, host, port)) return undefined;
    return { ok: false, reason: `${normalHost(host)}:${port} is a region node's own listener` };
  }

  /**
   * A `lookup` for sockets (node:http agents, undici's connector): resolves as usual, then
   * refuses the connection when any resolved address is not allowed. It cannot see the port:
   * connections use `lookupFor(port)`, which also refuses the nodes' listeners.
   */
  readonly lookup = this.lookupFor(undefined);

  /** `lookup` for connections to `port`: refuses as well an address that is a node's listener on that port. */
  lookupFor(port: number | undefined): (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => void {
    return (hostname, options, callback) => this.#lookup(port, hostname, options, callback);
  }

  #lookup(port: number | undefined, hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
    const named = port === undefined ? this.host(hostname) : this.endpoint(hostname, port);
    if (!named.ok) return callback(egressError(hostname, named.reason), '', 0);
    (this.options.resolve ?? dnsLookup)(hostname, { ...options, all: true }, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const v = (port === undefined ? undefined : this.#listener(a.address, port)) ?? this.address(a.address, hostname.toLowerCase());
        if (!v.ok) return callback(egressError(hostname, v.reason), '', 0);
      }
      if (options.all === true) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  }
}

/** The error a refused connection fails with (mapped to SVC_EGRESS_REFUSED by the proxy). */
export function egressError(host: string, reason: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`egress to ${host} refused: ${reason}`), { code: 'EMERIDIANEGRESS' });
}
