/**
 * What makes the NATS part of a topology unplannable, located in meridian.yaml:
 * - an even total of servers: the JetStream meta group spans the whole super-cluster and needs a
 *   majority, so an even split (two regions of four lose contact) stops stream creation
 *   everywhere. Refused unless `deploy.nats.allowEvenServers: true`, which turns it into a warning;
 * - `serversPerRegion` naming regions the topology does not have;
 * - two listeners on one port, or two servers on one address (their ports would collide);
 * - operator TLS files that cannot be read (and a warning when the operator's certificate does not
 *   name a server's address: peers and region nodes verify it).
 */
import { X509Certificate } from 'node:crypto';
import { access, constants, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { natsServersIn, nodePort } from '../inventory.js';
import type { PlanContext, PlanProblem } from '../types.js';
import { LISTENERS } from './layout.js';

export interface CheckResult {
  readonly problems: PlanProblem[];
  readonly warnings: PlanProblem[];
}

/**
 * `hosts: false` checks only what holds wherever the servers run (server counts, distinct ports,
 * operator TLS): the Kubernetes target runs the same NATS layout in pods, with their own addresses.
 */
export async function checkNats(ctx: Pick<PlanContext, 'topology' | 'inventory' | 'local'>, opts: { hosts?: boolean } = {}): Promise<CheckResult> {
  const checkHosts = opts.hosts ?? true;
  const { topology } = ctx;
  const nats = topology.deploy.nats;
  const problems: PlanProblem[] = [];
  const warnings: PlanProblem[] = [];
  const names = new Set(topology.regions.map((r) => r.name));

  if (typeof nats.serversPerRegion !== 'number') {
    for (const region of Object.keys(nats.serversPerRegion).sort()) {
      if (!names.has(region)) {
        problems.push({ path: ['deploy', 'nats', 'serversPerRegion', region], message: `unknown region "${region}" (known: ${[...names].join(', ')})` });
      }
    }
  }
  const total = topology.regions.reduce((n, r) => n + natsServersIn(topology, r.name), 0);
  if (total % 2 === 0) {
    const why = `${total} NATS servers in all: the JetStream meta group spans the super-cluster and an even split loses its majority (stream and KV creation stop everywhere); use an odd total`;
    if (nats.allowEvenServers) warnings.push({ path: ['deploy', 'nats', 'serversPerRegion'], message: `${why} (accepted: deploy.nats.allowEvenServers is true)` });
    else problems.push({ path: ['deploy', 'nats', 'serversPerRegion'], message: `${why}, or set deploy.nats.allowEvenServers: true to accept it` });
  }

  if (!ctx.local) {
    const seen = new Map<number, string>();
    for (const l of LISTENERS) {
      const port = nats.ports[l];
      const other = seen.get(port);
      if (other !== undefined) problems.push({ path: ['deploy', 'nats', 'ports', l], message: `port ${port} is also the ${other} port: every NATS listener needs its own port` });
      else seen.set(port, l);
    }
    // A region node on the same address as a NATS server (no VPN, one public address per region)
    // listens on 7701 + the region's index: a NATS port there would collide with it.
    for (const r of checkHosts ? topology.regions : []) {
      const natsAt = new Set(ctx.inventory.hosts.filter((h) => h.region === r.name && h.role === 'nats').map((h) => h.address));
      const shared = ctx.inventory.hosts.some((h) => h.region === r.name && h.role === 'node' && natsAt.has(h.address));
      const np = nodePort(topology, r.name);
      const l = LISTENERS.find((x) => nats.ports[x] === np);
      if (shared && l !== undefined) problems.push({ path: ['deploy', 'nats', 'ports', l], message: `port ${np} is the ${r.name} region node's port, on the same address (${[...natsAt].join(', ')})` });
    }
    const byAddress = new Map<string, string>();
    for (const h of ctx.inventory.hosts) {
      if (h.role !== 'nats' || !checkHosts) continue;
      const other = byAddress.get(h.address);
      if (other === undefined) {
        byAddress.set(h.address, h.name);
        continue;
      }
      const pinned = topology.deploy.vpn.kind !== 'none' && topology.deploy.vpn.pins[h.name] !== undefined;
      const path = pinned ? ['deploy', 'vpn', 'pins', h.name] : topology.deploy.hosts[h.region] !== undefined ? ['deploy', 'hosts', h.region] : ['deploy', 'nats', 'serversPerRegion'];
      problems.push({ path, message: `NATS servers ${other} and ${h.name} would share address ${h.address}, so their ports collide: give each server its own address (a VPN, or one server per region)` });
    }
  }

  if (nats.tls !== undefined) {
    for (const key of ['ca', 'cert', 'key'] as const) {
      const file = nats.tls[key];
      try {
        await access(file, constants.R_OK);
      } catch {
        problems.push({ path: ['deploy', 'nats', 'tls', key], message: `cannot read ${file}` });
      }
    }
    if (problems.length === 0) {
      let cert: X509Certificate | undefined;
      try {
        cert = new X509Certificate(await readFile(nats.tls.cert));
      } catch (err) {
        problems.push({ path: ['deploy', 'nats', 'tls', 'cert'], message: `${nats.tls.cert} is not a PEM certificate: ${(err as Error).message}` });
      }
      const uncovered = cert === undefined ? [] : [...new Set(ctx.inventory.hosts.filter((h) => h.role === 'nats').map((h) => h.address))].filter((a) => (isIP(a) ? cert.checkIP(a) : cert.checkHost(a)) === undefined);
      if (uncovered.length > 0) {
        warnings.push({ path: ['deploy', 'nats', 'tls', 'cert'], message: `the certificate does not name ${uncovered.join(', ')}: routes, gateways and region nodes dialing those addresses will fail TLS verification` });
      }
    }
  }
  return { problems, warnings };
}
