/**
 * One Nebula config per host (`vpn/<host>.yml`), deterministic from the topology: where the PKI
 * files are, every region's lighthouse (overlay IP → underlay `ip:port`), the UDP port, the tun
 * device, and the firewall of firewall.ts. Lighthouses run with `tun.disabled` (they only answer
 * "where is host X", carry no Meridian traffic and then need no root); every other host uses all
 * lighthouses, so losing one region loses no discovery.
 */
import { parseCidr } from '../inventory.js';
import type { Topology } from '../../topology/mod.js';
import type { Inventory, PlanContext, PlanHost, PlanProblem } from '../types.js';
import { inboundRules, OUTBOUND_RULES } from './firewall.js';

export const NEBULA_DEV = 'nebula1';
/** Conservative MTU: Nebula's overhead on a 1500-byte underlay, with room for cloud encapsulation. */
export const NEBULA_MTU = 1300;

export interface Underlay {
  readonly host: string;
  readonly port: number;
}

/** `ip`, `ip:port`, `dns-name` or `dns-name:port`. */
export function parseUnderlay(text: string, defaultPort: number): Underlay | undefined {
  const m = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (m === null) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}

/** Where a host listens (UDP) and, for lighthouses, where the others find it. */
export function underlayOf(ctx: Pick<PlanContext, 'topology' | 'local'>, host: PlanHost): Underlay | undefined {
  const vpn = ctx.topology.deploy.vpn;
  if (ctx.local !== undefined) return { host: '127.0.0.1', port: ctx.local.port(host.name, 'nebula') };
  const spec = vpn.underlay[host.name] ?? (host.role === 'lighthouse' && host.index === 0 ? ctx.topology.deploy.hosts[host.region] : undefined);
  return spec === undefined ? undefined : parseUnderlay(spec, vpn.port);
}

/** The Nebula-specific problems: lighthouses without an underlay address, bad underlay entries. */
export function checkVpn(topology: Topology, inventory: Inventory, local = false): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const known = new Set(inventory.hosts.map((h) => h.name));
  for (const [name, spec] of Object.entries(topology.deploy.vpn.underlay)) {
    const path = ['deploy', 'vpn', 'underlay', name];
    if (!known.has(name)) problems.push({ path, message: `no planned host "${name}"` });
    else if (parseUnderlay(spec, topology.deploy.vpn.port) === undefined) problems.push({ path, message: `"${spec}" is not an address such as 203.0.113.7 or 203.0.113.7:4242` });
  }
  if (local) return problems;
  return [...problems, ...missingLighthouseAddresses(topology, inventory)];
}

/**
 * Lighthouses with no public address (neither `deploy.vpn.underlay.<host>` nor
 * `deploy.hosts.<region>`): the one thing a topology without a `deploy:` section (the built-in
 * one, the examples) lacks for a mesh. The planner skips the VPN target for these when it was not
 * asked for by name, and refuses them when it was.
 */
export function missingLighthouseAddresses(topology: Topology, inventory: Inventory): PlanProblem[] {
  return inventory.hosts
    .filter((h) => h.role === 'lighthouse' && topology.deploy.vpn.underlay[h.name] === undefined && topology.deploy.hosts[h.region] === undefined)
    .map((h) => ({
      path: ['deploy', 'hosts', h.region],
      message: `the lighthouse ${h.name} needs a public address: set deploy.hosts.${h.region} (or deploy.vpn.underlay.${h.name}) to an IP or DNS name the other regions reach`,
    }));
}

/** The config of one host, as a plain object (YAML-rendered by the caller). */
export function nebulaConfig(ctx: Pick<PlanContext, 'topology' | 'inventory' | 'local'>, host: PlanHost, pkiDir: string): Record<string, unknown> {
  const lighthouses = ctx.inventory.hosts.filter((h) => h.role === 'lighthouse');
  const staticHostMap: Record<string, string[]> = {};
  for (const lh of lighthouses) {
    const u = underlayOf(ctx, lh);
    if (u !== undefined) staticHostMap[lh.overlayIp] = [`${u.host}:${u.port}`];
  }
  const isLighthouse = host.role === 'lighthouse';
  const me = underlayOf(ctx, host);
  return {
    pki: { ca: `${pkiDir}/ca.crt`, cert: `${pkiDir}/${host.name}.crt`, key: `${pkiDir}/${host.name}.key` },
    static_host_map: staticHostMap,
    lighthouse: {
      am_lighthouse: isLighthouse,
      interval: 60,
      // A lighthouse must not list lighthouses (Nebula refuses it); the others list them all.
      hosts: isLighthouse ? [] : lighthouses.map((h) => h.overlayIp),
    },
    listen: { host: ctx.local !== undefined ? '127.0.0.1' : '0.0.0.0', port: me?.port ?? ctx.topology.deploy.vpn.port },
    punchy: { punch: true, respond: true },
    tun: isLighthouse
      ? { disabled: true }
      : { disabled: false, dev: NEBULA_DEV, drop_local_broadcast: false, drop_multicast: false, tx_queue: 500, mtu: NEBULA_MTU },
    logging: { level: 'info', format: 'text' },
    firewall: {
      outbound_action: 'drop',
      inbound_action: 'drop',
      conntrack: { tcp_timeout: '12m', udp_timeout: '3m', default_timeout: '10m' },
      outbound: OUTBOUND_RULES,
      inbound: inboundRules(ctx.topology, host),
    },
  };
}

/** `overlayIp/bits` for a host's certificate (the whole overlay's prefix). */
export function certIp(topology: Topology, host: PlanHost): string {
  return `${host.overlayIp}/${parseCidr(topology.deploy.vpn.cidr).bits}`;
}
