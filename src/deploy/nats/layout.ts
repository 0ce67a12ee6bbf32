/**
 * Where each NATS server of the plan listens and how the others reach it: one place for the
 * addresses, ports and file locations that the server configs, the certificates' names and the
 * region nodes' settings must agree on.
 *
 * Deployed (the default): servers listen on `deploy.nats.ports`, are reached at their inventory
 * address, and read their files from fixed paths on their machine (/etc/nats/tls,
 * /var/lib/nats/jetstream). With a VPN the address is the overlay IP and every listener binds
 * only that IP (NATS, monitoring included, is then unreachable from the public network); without
 * one they bind 0.0.0.0. `--local`: everything on 127.0.0.1 with the
 * plan's free ports, and every path points into the output directory.
 */
import { join } from 'node:path';
import type { PlanContext, PlanHost } from '../types.js';

/** Where the deployed files go on a NATS server's machine (README.md says the same). */
export const SERVER_TLS_DIR = '/etc/nats/tls';
export const SERVER_CONFIG = '/etc/nats/nats-server.conf';
export const SERVER_STORE_DIR = '/var/lib/nats/jetstream';
/** Where a region node finds its credentials (the Kubernetes manifests mount them there too). */
export const NODE_NKEY_FILE = '/etc/meridian/nats/node.nk';
export const NODE_CA_FILE = '/etc/meridian/tls/ca.pem';

export const LISTENERS = ['client', 'cluster', 'gateway', 'monitor'] as const;
export type NatsListener = (typeof LISTENERS)[number];

export interface NatsServerLayout {
  readonly host: PlanHost;
  readonly region: string;
  /** Address the listeners bind. */
  readonly bind: string;
  readonly ports: Readonly<Record<NatsListener, number>>;
  /** `tls://address:client`: what region nodes dial. */
  readonly clientUrl: string;
  /** `tls://address:cluster`: what the region's other servers dial. */
  readonly routeUrl: string;
  /** `tls://address:gateway`: what the other regions dial. */
  readonly gatewayUrl: string;
  /** `http://address:monitor` (/varz, /gatewayz, /jsz). */
  readonly monitorUrl: string;
  /** Paths as the server sees them. */
  readonly paths: { readonly cert: string; readonly key: string; readonly ca: string; readonly store: string };
}

type LayoutContext = Pick<PlanContext, 'inventory' | 'topology' | 'local' | 'outDir'>;

/** Every NATS server of the plan, in inventory order (regions in topology order). */
export function natsLayout(ctx: LayoutContext): NatsServerLayout[] {
  const ports = ctx.topology.deploy.nats.ports;
  const local = ctx.local;
  return ctx.inventory.hosts
    .filter((h) => h.role === 'nats')
    .map((host) => {
      const p = (l: NatsListener): number => (local ? local.port(host.name, `nats-${l}`) : ports[l]);
      const at = (scheme: string, l: NatsListener): string => `${scheme}://${hostPort(host.address, p(l))}`;
      const tlsDir = local ? join(ctx.outDir, 'tls') : SERVER_TLS_DIR;
      return {
        host,
        region: host.region,
        bind: local ? '127.0.0.1' : ctx.topology.deploy.vpn.kind !== 'none' ? host.address : '0.0.0.0',
        ports: { client: p('client'), cluster: p('cluster'), gateway: p('gateway'), monitor: p('monitor') },
        clientUrl: at('tls', 'client'),
        routeUrl: at('tls', 'cluster'),
        gatewayUrl: at('tls', 'gateway'),
        monitorUrl: at('http', 'monitor'),
        paths: {
          cert: join(tlsDir, `${host.name}.pem`),
          key: join(tlsDir, `${host.name}-key.pem`),
          ca: join(tlsDir, 'ca.pem'),
          store: local ? join(ctx.outDir, 'data', host.name, 'jetstream') : SERVER_STORE_DIR,
        },
      };
    });
}

/** `host:port`, bracketing IPv6 literals. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The client URLs of one region's servers. */
export function regionClientUrls(layout: readonly NatsServerLayout[], region: string): string[] {
  return layout.filter((s) => s.region === region).map((s) => s.clientUrl);
}

/** Paths of a region node's credentials, as the node sees them. */
export function nodeCredentialPaths(ctx: Pick<PlanContext, 'local' | 'outDir'>, region: string): { nkey: string; ca: string } {
  return ctx.local
    ? { nkey: join(ctx.outDir, 'nats', 'users', `${region}-node.nk`), ca: join(ctx.outDir, 'tls', 'ca.pem') }
    : { nkey: NODE_NKEY_FILE, ca: NODE_CA_FILE };
}
