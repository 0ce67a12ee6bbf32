/**
 * Who may reach what on the overlay. Nebula's firewall matches on the groups signed into each
 * peer's certificate, so a rule is only as wide as the groups it names. Everything inbound is
 * dropped except what Meridian needs between sites:
 *
 * | on host | port (tcp) | from groups (all must match) | why |
 * |---|---|---|---|
 * | NATS `<r>` | gateway (7222) | `meridian-nats` | super-cluster gateways, any region |
 * | NATS `<r>` | cluster (6222) | `meridian-nats` + `region-<r>` | routes inside region r's cluster |
 * | NATS `<r>` | client (4222) | `meridian-node` + `region-<r>` | region r's nodes attach to their own cluster |
 * | NATS `<r>` | client (4222) | `meridian-ops` | `meridian doctor` (TLS certificates), operators' `nats` CLI (system.nk) |
 * | NATS `<r>` | monitor (8222) | `meridian-ops` | `meridian doctor`, metrics scraping (unauthenticated: ops only) |
 * | node `<r>` | node port (7701+i) | `meridian-node` | other regions' nodes: migrate targets, /v1/regions |
 * | node `<r>` | node port (7701+i) | `meridian-edge` | haproxy or `meridian edge` on the edge hosts |
 * | node `<r>` | node port (7701+i) | `meridian-ops` | `meridian doctor` (/ready, /health), metrics (/metrics) |
 * | every host | ICMP | `meridian` | ping across the overlay when diagnosing |
 *
 * The ops and edge hosts accept nothing but ICMP. Outbound is open (the peer's inbound rules
 * decide). Lighthouses run without a tun device, so they have no inbound surface at all beyond
 * Nebula's own UDP port.
 */
import { nodePort } from '../inventory.js';
import type { Topology } from '../../topology/mod.js';
import type { PlanHost } from '../types.js';

export interface FirewallRule {
  readonly port: number | 'any';
  readonly proto: 'tcp' | 'udp' | 'icmp' | 'any';
  readonly groups?: readonly string[];
  readonly host?: 'any';
}

export const MESH_GROUP = 'meridian';

export function roleGroup(role: PlanHost['role']): string {
  return `meridian-${role}`;
}

export function regionGroup(region: string): string {
  return `region-${region}`;
}

/** The groups signed into a host's certificate (the ops and edge hosts have no region). */
export function hostGroups(host: PlanHost): string[] {
  return host.region === '' ? [MESH_GROUP, roleGroup(host.role)] : [MESH_GROUP, roleGroup(host.role), regionGroup(host.region)];
}

/** Every group a plan uses (the CA is limited to these). */
export function allGroups(topology: Topology): string[] {
  return [MESH_GROUP, ...(['lighthouse', 'nats', 'node', 'ops', 'edge'] as const).map(roleGroup), ...topology.regions.map((r) => regionGroup(r.name))];
}

export function inboundRules(topology: Topology, host: PlanHost): FirewallRule[] {
  const ports = topology.deploy.nats.ports;
  const rules: FirewallRule[] = [{ port: 'any', proto: 'icmp', groups: [MESH_GROUP] }];
  if (host.role === 'nats') {
    rules.push(
      { port: ports.gateway, proto: 'tcp', groups: [roleGroup('nats')] },
      { port: ports.cluster, proto: 'tcp', groups: [roleGroup('nats'), regionGroup(host.region)] },
      { port: ports.client, proto: 'tcp', groups: [roleGroup('node'), regionGroup(host.region)] },
      { port: ports.client, proto: 'tcp', groups: [roleGroup('ops')] },
      { port: ports.monitor, proto: 'tcp', groups: [roleGroup('ops')] },
    );
  } else if (host.role === 'node') {
    const port = nodePort(topology, host.region);
    rules.push(
      { port, proto: 'tcp', groups: [roleGroup('node')] },
      { port, proto: 'tcp', groups: [roleGroup('edge')] },
      { port, proto: 'tcp', groups: [roleGroup('ops')] },
    );
  }
  return rules;
}

export const OUTBOUND_RULES: readonly FirewallRule[] = [{ port: 'any', proto: 'any', host: 'any' }];
