/**
 * The region nodes' own listeners, as the egress policy refuses them (docs/services.md, "Egress
 * policy"). A worker URL that points at a node turns the registration token into a way to send
 * requests from inside the deployment to the node's own API (or another region's), past any
 * firewall in front of it; `Via` only stops the proxy path looping. Matched by address and port
 * together, so a worker on the same host as a node (another port) stays allowed.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface Listener {
  /** A literal address, a host name, or a wildcard (`0.0.0.0`, `::`): every local address. */
  readonly host: string;
  readonly port: number;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * One spelling per host, to compare: lower case, no brackets or trailing dot, IPv6 in the URL
 * standard's form (`0:0::1` is `::1`), and IPv4-mapped IPv6 (`::ffff:7f00:1`, as URLs write
 * `::ffff:127.0.0.1`) as its IPv4 address.
 */
export function normalHost(host: string): string {
  let h = normal.get(host);
  if (h === undefined) {
    if (normal.size >= 1024) normal.clear();
    h = normalize(host);
    normal.set(host, h);
  }
  return h;
}

// The proxy checks its worker's host against the listeners on every request: the same few
// spellings, each a handful of regular expressions and an isIP. Bounded; past it, started again.
const normal = new Map<string, string>();

function normalize(host: string): string {
  let h = host.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (isIP(h) === 6 && URL.canParse(`http://[${h}]/`)) h = new URL(`http://[${h}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (!mapped) return h;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** The port a URL connects to: its own, else 443 for https and 80 for http. */
export function urlPort(u: URL): number {
  return u.port === '' ? (u.protocol === 'https:' || u.protocol === 'wss:' ? 443 : 80) : Number(u.port);
}

/** The listener a base URL (`http://10.0.0.5:7701`) names; undefined when it is not a URL. */
export function listenerOf(url: string): Listener | undefined {
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  return { host: u.hostname, port: urlPort(u) };
}

// Interface addresses change rarely (a VPN coming up); re-read at most every 10 s, not per call.
let local: { at: number; set: ReadonlySet<string> } | undefined;
function localAddresses(): ReadonlySet<string> {
  const now = Date.now();
  if (local === undefined || now - local.at > 10_000) {
    const set = new Set<string>();
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) set.add(normalHost(a.address));
    local = { at: now, set };
  }
  return local.set;
}

/** Whether `host:port` (a literal address or a name) is one of `listeners`. */
export function isListener(listeners: Iterable<Listener>, hostRaw: string, port: number): boolean {
  const host = normalHost(hostRaw);
  const v = isIP(host);
  for (const l of listeners) {
    if (l.port !== port) continue;
    const lh = normalHost(l.host);
    if (lh === host) return true;
    // A node bound to every interface answers on each of their addresses and on all of loopback.
    if (v !== 0 && WILDCARD.has(lh) && (LOOPBACK.check(host, v === 6 ? 'ipv6' : 'ipv4') || localAddresses().has(host))) return true;
  }
  return false;
}
