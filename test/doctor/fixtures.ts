/**
 * Snapshots shaped like nats-server 2.9.10's monitoring JSON (fields as captured from the test
 * super-cluster), for the doctor's table tests. `healthy()` is three one-server regions with
 * every gateway up and the meta leader in us-east; tests change one thing at a time.
 */
import { DEFAULT_TOPOLOGY_YAML, parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import type { ServerProbe, Snapshot } from '../../src/doctor/mod.js';
import type { StreamDetail } from '../../src/doctor/nats-json.js';

export const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;

/** The built-in topology with explicit one-way links: 10, 20 and 30 ms. */
export function topology(): Topology {
  const yaml = DEFAULT_TOPOLOGY_YAML.replace(
    'wan:\n  msPer100Km: 1\n',
    'wan:\n  msPer100Km: 1\n  links:\n    - { between: [us-east, eu-west], oneWayMs: 10 }\n    - { between: [eu-west, ap-southeast], oneWayMs: 20 }\n    - { between: [us-east, ap-southeast], oneWayMs: 30 }\n',
  );
  return parseTopology(yaml, 'fixture.yaml');
}

const LINK: Record<string, number> = { 'eu-west|us-east': 10, 'ap-southeast|eu-west': 20, 'ap-southeast|us-east': 30 };
const rttOf = (a: string, b: string): number => 2 * (LINK[[a, b].sort().join('|')] ?? 0);

export interface ServerSpec {
  region: string;
  name?: string;
  leader?: string;
  /** Only the leader lists replicas, as nats-server does; names of peers marked offline. */
  offline?: readonly string[];
  members?: readonly string[];
  streams?: StreamDetail[];
  /** Remote regions this server has no gateway connection to. */
  cut?: readonly string[];
  rttMs?: (to: string) => number;
  nowOffsetMs?: number;
  url?: string;
}

export const NOW = Date.parse('2026-12-04T12:00:00.000Z');

export function server(spec: ServerSpec): ServerProbe {
  const name = spec.name ?? spec.region;
  const members = spec.members ?? REGIONS;
  const leader = spec.leader ?? 'us-east';
  const conn = (to: string) => ({ rtt: `${(spec.rttMs ?? ((t: string) => rttOf(spec.region, t)))(to)}ms`, ip: '127.0.0.1', port: 1 });
  const others = REGIONS.filter((r) => r !== spec.region && !(spec.cut ?? []).includes(r));
  return {
    region: spec.region,
    url: spec.url ?? `http://${name}.test:8222`,
    varz: {
      server_name: name,
      version: '2.9.10',
      now: new Date(NOW + (spec.nowOffsetMs ?? 0)).toISOString(),
      uptime: '1h',
      cluster: { name: spec.region },
      gateway: { name: spec.region },
      jetstream: { config: {} },
    },
    gatewayz: {
      name: spec.region,
      outbound_gateways: Object.fromEntries(others.map((o) => [o, { configured: true, connection: conn(o) }])),
      inbound_gateways: Object.fromEntries(others.map((o) => [o, [{ configured: false, connection: conn(o) }]])),
    },
    jsz: {
      meta_cluster: {
        name: spec.region,
        leader,
        cluster_size: members.length,
        ...(leader === name ? { replicas: members.filter((m) => m !== name).map((m) => ({ name: m, current: true, ...((spec.offline ?? []).includes(m) ? { offline: true } : {}) })) } : {}),
      },
      account_details: [{ name: '$G', id: '$G', stream_detail: spec.streams ?? [] }],
    },
    routez: { num_routes: 0, routes: [] },
    varzClock: { midMs: NOW, rttMs: 2 },
  };
}

export function stream(name: string, cluster: string, leader = cluster): StreamDetail {
  return { name, cluster: { name: cluster, leader }, state: { messages: 0, bytes: 0 } };
}

export function healthy(): Snapshot {
  return {
    topology: topology(),
    servers: [
      server({ region: 'us-east', streams: [stream('KV_mrd-presence-us-east', 'us-east'), stream('MRD_LOG_us-east', 'us-east'), stream('MRD_LOGHEAD_us-east', 'us-east')] }),
      server({ region: 'eu-west', streams: [stream('MRD_LOG_eu-west', 'eu-west')] }),
      server({ region: 'ap-southeast', streams: [stream('MRD_LOG_ap-southeast', 'ap-southeast')] }),
    ],
    certs: [],
    takenAtMs: NOW,
  };
}

/** `s` with the server of `region` replaced by an unreachable one. */
export function down(s: Snapshot, region: string): Snapshot {
  return { ...s, servers: s.servers.map((p) => (p.region === region ? { region, url: p.url, error: 'ECONNREFUSED' } : p)) };
}
