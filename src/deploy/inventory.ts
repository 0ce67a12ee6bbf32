/**
 * The hosts of a planned deployment and their overlay addresses, derived from the topology alone
 * (so every generator agrees, and planning twice gives the same addresses).
 *
 * Scheme (docs/deploy.md):
 * - Region i (0-based, topology order) gets the (i+1)-th /24 of `deploy.vpn.cidr` (the first /24,
 *   x.y.0.0, is left for operators' own machines) unless `deploy.vpn.regions` names its CIDR.
 *   Adding a region at the end never moves the others; to remove or reorder regions, pin the
 *   CIDRs of those that would move in `deploy.vpn.regions`.
 * - Inside a region CIDR of 256 addresses or more: the lighthouse is .1, NATS server n is .10+n
 *   (n < 90), region node host n is .100+n. In a smaller CIDR (a /25 to a /30) hosts are packed
 *   from the first usable address: lighthouse, NATS servers, region node hosts.
 * - The ops hosts (`ops-<n>`, `deploy.vpn.opsHosts`, default 1) and edge hosts (`edge-<n>`,
 *   `deploy.vpn.edgeHosts`, default 1) belong to no region: they are .10+n and .20+n of that first
 *   /24 (the rest of it stays the operators'). They exist only with a VPN.
 * - `deploy.vpn.pins` overrides any host's address (it must lie in its region's CIDR; an ops or
 *   edge host's in the overlay).
 * No address is ever given to two hosts: `checkInventory` refuses overlapping CIDRs, full CIDRs,
 * and pins that are malformed, outside their region, duplicated or equal to a derived address.
 */
import type { Topology } from '../topology/mod.js';
import type { HostRole, Inventory, PlanHost, PlanProblem, RegionPlan } from './types.js';

/** NATS servers planned for a region. */
export function natsServersIn(topology: Topology, region: string): number {
  const n = topology.deploy.nats.serversPerRegion;
  return typeof n === 'number' ? n : (n[region] ?? 1);
}

/** Region node hosts (VMs) planned per region; Kubernetes replicas are separate. */
export const NODE_HOSTS_PER_REGION = 1;

/** The region node's HTTP/WebSocket port: `meridian region`'s default, 7701 + topology index. */
export function nodePort(topology: Topology, region: string): number {
  return 7701 + Math.max(0, topology.regions.findIndex((r) => r.name === region));
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

/** `a.b.c.d/len` with len 0..32. */
export function isCidr(text: string): boolean {
  const [ip, len, extra] = text.split('/');
  return extra === undefined && ip !== undefined && isIpv4(ip) && len !== undefined && /^\d{1,2}$/.test(len) && Number(len) <= 32;
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `a.b.c.d/len` → base address and prefix length (no validation: `checkInventory` checks). */
export function parseCidr(cidr: string): { base: number; bits: number } {
  const [ip, len] = cidr.split('/');
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (ipToInt(ip!) & mask) >>> 0, bits };
}

/** Number of addresses in a CIDR (2^(32-bits)). */
export function cidrSize(cidr: string): number {
  return 2 ** (32 - parseCidr(cidr).bits);
}

export function cidrContains(cidr: string, ip: string): boolean {
  const { base, bits } = parseCidr(cidr);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === base;
}

function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const xEnd = x.base + 2 ** (32 - x.bits) - 1;
  const yEnd = y.base + 2 ** (32 - y.bits) - 1;
  return x.base <= yEnd && y.base <= xEnd;
}

/** The region's /24 (or its configured CIDR). */
export function regionCidr(topology: Topology, index: number): string {
  const name = topology.regions[index]!.name;
  const configured = topology.deploy.vpn.regions[name];
  if (configured !== undefined) return configured;
  const { base } = parseCidr(topology.deploy.vpn.cidr);
  return `${intToIp((base + ((index + 1) << 8)) >>> 0)}/24`;
}

type RegionRole = 'lighthouse' | 'nats' | 'node';
const OFFSET: Record<RegionRole, number> = { lighthouse: 1, nats: 10, node: 100 };
/** The first offset past each role's range in the /24 scheme. */
const RANGE_END: Record<RegionRole, number> = { lighthouse: 10, nats: 100, node: 255 };
/** Offsets of the ops and edge hosts in the overlay's first /24. */
const GLOBAL_OFFSET = { ops: 10, edge: 20 } as const;

/** Offset of a host inside its region CIDR by the documented scheme (no pins). */
function offsetOf(size: number, role: RegionRole, index: number, natsCount: number): number {
  if (size >= 256) return OFFSET[role] + index;
  // Packed: .1 lighthouse, then the NATS servers, then the node hosts.
  if (role === 'lighthouse') return 1 + index;
  if (role === 'nats') return 2 + index;
  return 2 + natsCount + index;
}

function hostName(region: string, role: HostRole, index: number): string {
  return `${region}-${role}-${index}`;
}

export function inventory(topology: Topology, opts: { local?: boolean } = {}): Inventory {
  const vpn = topology.deploy.vpn.kind !== 'none';
  const regions: RegionPlan[] = topology.regions.map((r, i) => {
    const cidr = regionCidr(topology, i);
    const { base } = parseCidr(cidr);
    const size = cidrSize(cidr);
    const natsCount = natsServersIn(topology, r.name);
    const hosts: PlanHost[] = [];
    const add = (role: RegionRole, index: number): void => {
      const name = hostName(r.name, role, index);
      const overlayIp = topology.deploy.vpn.pins[name] ?? intToIp((base + offsetOf(size, role, index, natsCount)) >>> 0);
      const address = opts.local ? '127.0.0.1' : vpn ? overlayIp : (topology.deploy.hosts[r.name] ?? `${name}.${r.name}.internal`);
      hosts.push({ name, region: r.name, role, index, overlayIp, address });
    };
    add('lighthouse', 0);
    for (let n = 0; n < natsCount; n++) add('nats', n);
    for (let n = 0; n < NODE_HOSTS_PER_REGION; n++) add('node', n);
    return { name: r.name, cidr, hosts };
  });
  const global: PlanHost[] = [];
  if (vpn) {
    const { base } = parseCidr(topology.deploy.vpn.cidr);
    const counts: [HostRole & keyof typeof GLOBAL_OFFSET, number][] = [['ops', topology.deploy.vpn.opsHosts], ['edge', topology.deploy.vpn.edgeHosts]];
    for (const [role, count] of counts) {
      for (let index = 0; index < count; index++) {
        const name = `${role}-${index}`;
        const overlayIp = topology.deploy.vpn.pins[name] ?? intToIp((base + GLOBAL_OFFSET[role] + index) >>> 0);
        global.push({ name, region: '', role, index, overlayIp, address: opts.local ? '127.0.0.1' : overlayIp });
      }
    }
  }
  return { regions, hosts: [...regions.flatMap((r) => r.hosts), ...global] };
}

/**
 * What makes the overlay addressing unusable, each located in meridian.yaml: malformed or
 * overlapping CIDRs, regions outside the overlay, more hosts than a CIDR holds, bad pins. Empty
 * when `deploy.vpn.kind` is `none` (overlay addresses are then unused).
 */
export function checkInventory(topology: Topology): PlanProblem[] {
  const vpn = topology.deploy.vpn;
  if (vpn.kind === 'none') return [];
  const problems: PlanProblem[] = [];
  const at = (path: (string | number)[], message: string): void => void problems.push({ path, message });

  if (!isCidr(vpn.cidr)) {
    at(['deploy', 'vpn', 'cidr'], `"${vpn.cidr}" is not an IPv4 CIDR such as 10.77.0.0/16`);
    return problems;
  }
  const names = new Set(topology.regions.map((r) => r.name));
  for (const [name, cidr] of Object.entries(vpn.regions)) {
    if (!names.has(name)) at(['deploy', 'vpn', 'regions', name], `no region "${name}" in the topology`);
    else if (!isCidr(cidr)) at(['deploy', 'vpn', 'regions', name], `"${cidr}" is not an IPv4 CIDR such as 10.77.1.0/24`);
    else if (parseCidr(cidr).bits > 30) at(['deploy', 'vpn', 'regions', name], `${cidr} is too small: a region CIDR needs at least a /30 (two usable addresses)`);
  }
  if (problems.length > 0) return problems;

  // Region CIDRs: inside the overlay, no overlaps, enough room for their hosts.
  const regionPath = (i: number): (string | number)[] => {
    const name = topology.regions[i]!.name;
    return vpn.regions[name] !== undefined ? ['deploy', 'vpn', 'regions', name] : ['regions', i];
  };
  const cidrs = topology.regions.map((_, i) => regionCidr(topology, i));
  const usable = new Set<number>();
  cidrs.forEach((cidr, i) => {
    const region = topology.regions[i]!.name;
    const { base, bits } = parseCidr(cidr);
    const overlay = parseCidr(vpn.cidr);
    if (bits < overlay.bits || !cidrContains(vpn.cidr, intToIp(base))) {
      const derived = vpn.regions[region] === undefined;
      at(
        regionPath(i),
        derived
          ? `region ${region} would get ${cidr}, outside the overlay ${vpn.cidr} (it holds ${Math.max(0, 2 ** (24 - overlay.bits) - 1)} derived region /24s): widen deploy.vpn.cidr or set deploy.vpn.regions.${region}`
          : `${cidr} is not inside the overlay ${vpn.cidr} (deploy.vpn.cidr): every region's CIDR must be, so one route covers the mesh`,
      );
      return;
    }
    usable.add(i);
    for (let j = 0; j < i; j++) {
      if (overlaps(cidr, cidrs[j]!)) at(regionPath(i), `region ${region}'s CIDR ${cidr} overlaps region ${topology.regions[j]!.name}'s ${cidrs[j]}`);
    }
  });

  const inv = inventory(topology);
  const natsPath = (region: string): (string | number)[] =>
    typeof topology.deploy.nats.serversPerRegion === 'number' ? ['deploy', 'nats', 'serversPerRegion'] : ['deploy', 'nats', 'serversPerRegion', region];
  inv.regions.forEach((r, i) => {
    if (!usable.has(i)) return;
    const size = cidrSize(r.cidr);
    const natsCount = natsServersIn(topology, r.name);
    if (size >= 256) {
      if (natsCount <= RANGE_END.nats - OFFSET.nats) return;
      at(natsPath(r.name), `region ${r.name} plans ${natsCount} NATS servers; the addressing scheme holds ${RANGE_END.nats - OFFSET.nats} per region (.10 to .99)`);
      usable.delete(i);
    } else if (r.hosts.length > size - 2) {
      usable.delete(i);
      at(regionPath(i), `region ${r.name}'s CIDR ${r.cidr} holds ${size - 2} hosts but the region plans ${r.hosts.length} (1 lighthouse, ${natsCount} NATS, ${NODE_HOSTS_PER_REGION} node): use a larger CIDR`);
    }
  });

  // Pins: well formed, a planned host, inside its region, not the network or broadcast address.
  const hostByName = new Map(inv.hosts.map((h) => [h.name, h]));
  const badPins = new Set<string>();
  for (const [name, ip] of Object.entries(vpn.pins)) {
    const path = ['deploy', 'vpn', 'pins', name];
    const host = hostByName.get(name);
    if (host === undefined) {
      at(path, `no planned host "${name}" (hosts are <region>-<lighthouse|nats|node>-<n>, e.g. ${inv.hosts[1]?.name ?? 'us-east-nats-0'}, and ops-<n>, edge-<n> below deploy.vpn.opsHosts, edgeHosts)`);
      badPins.add(name);
      continue;
    }
    if (!isIpv4(ip)) {
      at(path, `"${ip}" is not an IPv4 address`);
      badPins.add(name);
      continue;
    }
    const cidr = host.region === '' ? vpn.cidr : inv.regions.find((r) => r.name === host.region)!.cidr;
    const { base } = parseCidr(cidr);
    const n = ipToInt(ip);
    if (!cidrContains(cidr, ip)) at(path, host.region === '' ? `${ip} is outside the overlay ${cidr} (deploy.vpn.cidr)` : `${ip} is outside region ${host.region}'s CIDR ${cidr}`);
    else if (n === base || n === base + cidrSize(cidr) - 1) at(path, `${ip} is the network or broadcast address of ${cidr}`);
    else continue;
    badPins.add(name);
  }

  // The ops and edge hosts' derived addresses: inside the overlay (a /24 or wider holds them).
  const overlaySize = cidrSize(vpn.cidr);
  for (const h of inv.hosts) {
    if (h.region !== '' || vpn.pins[h.name] !== undefined || (cidrContains(vpn.cidr, h.overlayIp) && ipToInt(h.overlayIp) < parseCidr(vpn.cidr).base + overlaySize - 1)) continue;
    badPins.add(h.name);
    at(['deploy', 'vpn', 'cidr'], `${h.name} would get ${h.overlayIp}, outside the overlay ${vpn.cidr}: use a /24 or wider, pin it (deploy.vpn.pins.${h.name}) or plan fewer (deploy.vpn.${h.role}Hosts)`);
  }
  // ... and outside every region's CIDR (a region pinned over the first /24 would take them).
  for (const h of inv.hosts) {
    if (h.region !== '' || badPins.has(h.name)) continue;
    const i = cidrs.findIndex((c, j) => usable.has(j) && cidrContains(c, h.overlayIp));
    if (i < 0) continue;
    badPins.add(h.name);
    const how = vpn.pins[h.name] !== undefined ? `pinned (deploy.vpn.pins.${h.name})` : 'the scheme puts it in the overlay\'s first /24';
    at(vpn.pins[h.name] !== undefined ? ['deploy', 'vpn', 'pins', h.name] : regionPath(i), `${h.name}'s ${h.overlayIp} (${how}) is inside region ${topology.regions[i]!.name}'s CIDR ${cidrs[i]}: keep that /24 free of regions, or pin ${h.name} elsewhere`);
  }

  // Every address once: a pin equal to another pin or to a derived address.
  const owner = new Map<string, PlanHost>();
  for (const h of inv.hosts) {
    if (badPins.has(h.name) || (h.region !== '' && !usable.has(inv.regions.findIndex((r) => r.name === h.region)))) continue;
    const first = owner.get(h.overlayIp);
    if (first === undefined) {
      owner.set(h.overlayIp, h);
      continue;
    }
    const pinned = vpn.pins[h.name] !== undefined ? h : vpn.pins[first.name] !== undefined ? first : undefined;
    const other = pinned === h ? first : h;
    if (pinned !== undefined) at(['deploy', 'vpn', 'pins', pinned.name], `${h.overlayIp} is already ${other.name}'s address${vpn.pins[other.name] !== undefined ? ' (pinned too)' : ' (derived by the scheme)'}`);
    else at(['deploy', 'vpn'], `${h.name} and ${first.name} would share ${h.overlayIp}`);
  }
  return problems;
}
