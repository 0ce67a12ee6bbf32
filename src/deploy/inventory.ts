/**
 * The hosts of a planned deployment and their overlay addresses, derived from the topology alone
 * (so every generator agrees, and planning twice gives the same addresses).
 *
 * Scheme (docs/deploy.md): region i (0-based, topology order) gets the (i+1)-th /24 of
 * `deploy.vpn.cidr` unless `deploy.vpn.regions` names one. Inside a region's /24: the lighthouse
 * is .1, NATS server n is .10+n, region node host n is .100+n. `deploy.vpn.pins` overrides any
 * host's address. Addresses are never shared; the planner's checks report overlaps.
 */
import type { Topology } from '../topology/mod.js';
import type { HostRole, Inventory, PlanHost, RegionPlan } from './types.js';

/** NATS servers planned for a region. */
export function natsServersIn(topology: Topology, region: string): number {
  const n = topology.deploy.nats.serversPerRegion;
  return typeof n === 'number' ? n : (n[region] ?? 1);
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `a.b.c.d/len` → base address and prefix length (no validation: the planner checks). */
export function parseCidr(cidr: string): { base: number; bits: number } {
  const [ip, len] = cidr.split('/');
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { base: (ipToInt(ip!) & mask) >>> 0, bits };
}

/** The region's /24 (or its configured CIDR). */
export function regionCidr(topology: Topology, index: number): string {
  const name = topology.regions[index]!.name;
  const configured = topology.deploy.vpn.regions[name];
  if (configured !== undefined) return configured;
  const { base } = parseCidr(topology.deploy.vpn.cidr);
  return `${intToIp((base + ((index + 1) << 8)) >>> 0)}/24`;
}

const OFFSET: Record<HostRole, number> = { lighthouse: 1, nats: 10, node: 100 };

export function inventory(topology: Topology, opts: { local?: boolean } = {}): Inventory {
  const vpn = topology.deploy.vpn.kind !== 'none';
  const regions: RegionPlan[] = topology.regions.map((r, i) => {
    const cidr = regionCidr(topology, i);
    const { base } = parseCidr(cidr);
    const hosts: PlanHost[] = [];
    const add = (role: HostRole, index: number): void => {
      const name = `${r.name}-${role}-${index}`;
      const overlayIp = topology.deploy.vpn.pins[name] ?? intToIp((base + OFFSET[role] + index) >>> 0);
      const address = opts.local ? '127.0.0.1' : vpn ? overlayIp : (topology.deploy.hosts[r.name] ?? `${name}.${r.name}.internal`);
      hosts.push({ name, region: r.name, role, index, overlayIp, address });
    };
    add('lighthouse', 0);
    for (let n = 0; n < natsServersIn(topology, r.name); n++) add('nats', n);
    add('node', 0);
    return { name: r.name, cidr, hosts };
  });
  return { regions, hosts: regions.flatMap((r) => r.hosts) };
}
