/**
 * nats-server configuration files for test servers, rendered from a small typed spec.
 *
 * Strings are written JSON-quoted, which the NATS config parser accepts, so paths and names with
 * spaces or colons are safe. The shape follows /work/shared/NATS-NOTES.md: `server_tags` at top
 * level, a route to the server's own cluster port (JetStream in a one-server cluster refuses to
 * start without a configured route), and every region's own entry in its gateways list.
 */

export interface NatsGatewayRemote {
  name: string;
  urls: readonly string[];
}

export interface NatsServerSpec {
  serverName: string;
  /** Client port on 127.0.0.1. */
  port: number;
  /** HTTP monitoring port on 127.0.0.1. */
  httpPort: number;
  tags?: readonly string[];
  /** Enables JetStream with this store directory. */
  jetstreamStoreDir?: string;
  cluster?: { name: string; port: number; routes: readonly string[] };
  gateway?: {
    name: string;
    port: number;
    /** Address gossiped to peers instead of the listen address (see super-cluster.ts). */
    advertise?: string;
    gateways: readonly NatsGatewayRemote[];
  };
  /**
   * Server ping interval in seconds. Gateways measure RTT with these pings, and queue-group
   * routing across gateways follows that RTT, so tests that change link latency want it short.
   */
  pingIntervalSec?: number;
}

const q = (s: string): string => JSON.stringify(s);
const list = (items: readonly string[]): string => `[${items.map(q).join(', ')}]`;

/** Render a nats-server config file. */
export function renderNatsConfig(spec: NatsServerSpec): string {
  const lines: string[] = [
    `server_name: ${q(spec.serverName)}`,
    `listen: ${q(`127.0.0.1:${spec.port}`)}`,
    `http: ${q(`127.0.0.1:${spec.httpPort}`)}`,
  ];
  if (spec.tags !== undefined && spec.tags.length > 0) {
    lines.push(`server_tags: ${list(spec.tags)}`);
  }
  if (spec.pingIntervalSec !== undefined) {
    lines.push(`ping_interval: ${q(`${spec.pingIntervalSec}s`)}`);
  }
  if (spec.jetstreamStoreDir !== undefined) {
    lines.push(`jetstream { store_dir: ${q(spec.jetstreamStoreDir)}, max_mem: 256MB, max_file: 1GB }`);
  }
  if (spec.cluster !== undefined) {
    const c = spec.cluster;
    lines.push(`cluster { name: ${q(c.name)}, listen: ${q(`127.0.0.1:${c.port}`)}, routes: ${list(c.routes)} }`);
  }
  if (spec.gateway !== undefined) {
    const g = spec.gateway;
    lines.push('gateway {', `  name: ${q(g.name)}`, `  listen: ${q(`127.0.0.1:${g.port}`)}`);
    if (g.advertise !== undefined) lines.push(`  advertise: ${q(g.advertise)}`);
    lines.push('  gateways: [');
    for (const remote of g.gateways) {
      lines.push(`    { name: ${q(remote.name)}, urls: ${list(remote.urls)} }`);
    }
    lines.push('  ]', '}');
  }
  return `${lines.join('\n')}\n`;
}
