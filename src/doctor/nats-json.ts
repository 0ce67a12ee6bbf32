/**
 * The parts of nats-server's monitoring JSON (/varz, /gatewayz, /jsz, /routez) the doctor reads,
 * as 2.9 sends them, and its Go durations ("21.1ms", "1m2s", "345µs") in milliseconds.
 *
 * Only the fields used are typed and every one is optional: the doctor must explain a server that
 * answers oddly (an older version, JetStream off, no gateway block), not crash on it. The
 * harness has its own reader (src/testing/monitor.ts) but the runtime does not depend on test
 * helpers, so the small duration parser lives here too.
 */

export interface Varz {
  server_name?: string;
  version?: string;
  /** Server clock when it answered (RFC 3339 with nanoseconds). */
  now?: string;
  uptime?: string;
  tls_required?: boolean;
  cluster?: { name?: string; urls?: string[] };
  gateway?: { name?: string; gateways?: Array<{ name?: string; urls?: string[] }> };
  jetstream?: { config?: unknown; meta?: MetaCluster };
}

export interface GatewayConnection {
  rtt?: string;
  ip?: string;
  port?: number;
  name?: string;
}

export interface Gatewayz {
  name?: string;
  outbound_gateways?: Record<string, { configured?: boolean; connection?: GatewayConnection }>;
  inbound_gateways?: Record<string, Array<{ configured?: boolean; connection?: GatewayConnection }>>;
}

export interface MetaPeer {
  name?: string;
  current?: boolean;
  /** 2.9 marks a peer it has lost contact with `offline` (and may still say `current`). */
  offline?: boolean;
  /** Nanoseconds since the leader last heard from it. */
  active?: number;
}

export interface MetaCluster {
  name?: string;
  leader?: string;
  replicas?: MetaPeer[];
  cluster_size?: number;
}

export interface StreamDetail {
  name?: string;
  cluster?: { name?: string; leader?: string; replicas?: Array<{ name?: string; current?: boolean; offline?: boolean }> };
  config?: { placement?: { cluster?: string; tags?: string[] } };
  state?: { messages?: number; bytes?: number };
}

export interface Jsz {
  disabled?: boolean;
  server_id?: string;
  meta_cluster?: MetaCluster;
  account_details?: Array<{ name?: string; id?: string; stream_detail?: StreamDetail[] }>;
}

export interface Routez {
  num_routes?: number;
  routes?: Array<{ remote_id?: string; ip?: string; port?: number }>;
}
