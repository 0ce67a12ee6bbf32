/**
 * `haproxy/haproxy.cfg`: the edge's steering for production traffic with haproxy alone in the data
 * path (no Node). Per request (frontend.ts writes it; what depends only on the connection's source
 * is computed once per connection, and a request without inputs of its own takes a short path):
 *
 * 1. Country: the `CF-IPCountry` or else `X-Country` header, believed only from a trusted upstream
 *    (`trusted-proxies.lst`: a CDN or L4 balancer that sets it); otherwise the client address
 *    looked up in `geoip-country.map` (CIDR → ISO code, built from MaxMind's GeoLite2 Country
 *    CSV by `geoip-from-geolite2.sh`: haproxy cannot read .mmdb files).
 * 2. Pool: `countries.map` (country → candidate list, steering.ts); other countries the default.
 * 3. Affinity: `X-Meridian-Region` header, else the `meridian_region` cookie, honoured only for a
 *    region in the client's candidate list (so strict residency holds) that is up and not full.
 * 4. Otherwise the first candidate that is up (`/ready` checks: 500 ms interval, down after 2,
 *    up after 3, as the edge's monitor) and below its cap (`maxconn` = capacity.connections;
 *    `be_conn_free` > 0), else the next: overflow and fallback in one ordered list.
 * 5. None: 503 `EDGE_NO_REGION` with Retry-After, as the edge answers.
 *
 * WebSockets: haproxy tunnels upgraded connections; `timeout tunnel` is an idle limit (the node's
 * heartbeats keep a live socket under it), there is no limit on a connection's total duration.
 * The answer to an upgrade sets the `meridian_region` cookie, as the edge does.
 */
import { nodePort } from '../inventory.js';
import { hostPort } from '../nats/layout.js';
import type { PlanContext } from '../types.js';
import { frontendSection } from './frontend.js';
import { AFFINITY_COOKIE, TUNNEL_TIMEOUT } from './names.js';
import { steeringPools } from './steering.js';

export const HAPROXY_DIR = '/etc/haproxy/meridian';
export { AFFINITY_COOKIE, AFFINITY_HEADER, COUNTRY_HEADERS, TUNNEL_TIMEOUT } from './names.js';

export interface HaproxyOptions {
  /** Region node base URLs (`http://host:port`) by region; default: from the topology. */
  readonly regionUrls?: Readonly<Record<string, string>>;
  /** Where the map and list files live on the haproxy host (default /etc/haproxy/meridian). */
  readonly mapDir?: string;
  /** `bind` address of the frontend (default `:80`; locally 127.0.0.1 and the `haproxy` port). */
  readonly bind?: string;
  /** Prometheus metrics and stats listener (default 127.0.0.1:8405; false: none). */
  readonly metricsBind?: string | false;
}

/**
 * Where the edge (haproxy, `meridian edge`, the doctor) reaches each region's node, by region:
 * `deploy.kubernetes.nodeUrls.<region>` when set (on Kubernetes, the node's LoadBalancer or the
 * TLS terminator in front of it); else the node host's address on the node port: its overlay IP
 * with a VPN (the edge and ops hosts are on the mesh, and the node's firewall admits them), or
 * `deploy.hosts.<region>` without one. Never `deploy.hosts` with a VPN: that is the lighthouse.
 */
export function regionNodeUrls(ctx: Pick<PlanContext, 'topology' | 'inventory' | 'local'>): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of ctx.topology.regions) {
    const configured = ctx.topology.deploy.kubernetes.nodeUrls[r.name];
    if (ctx.local !== undefined) out.set(r.name, `http://127.0.0.1:${ctx.local.port(`${r.name}-node-0`, 'http')}`);
    else if (configured !== undefined) out.set(r.name, configured.replace(/\/+$/, ''));
    else {
      const node = ctx.inventory.hosts.find((h) => h.region === r.name && h.role === 'node');
      out.set(r.name, `http://${hostPort(node?.address ?? r.name, nodePort(ctx.topology, r.name))}`);
    }
  }
  return out;
}

interface ServerTarget {
  /** `host:port`. */
  readonly address: string;
  /** An https node URL: haproxy speaks TLS to it, verifying its certificate for `host`. */
  readonly tlsHost?: string;
}

function targetOf(url: string): ServerTarget {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { address: hostPort(host, Number(u.port || (https ? 443 : 80))), ...(https ? { tlsHost: host } : {}) };
}

function serverTargets(ctx: Pick<PlanContext, 'topology' | 'inventory' | 'local'>, opts: HaproxyOptions): Map<string, ServerTarget> {
  const urls = regionNodeUrls(ctx);
  return new Map(ctx.topology.regions.map((r) => [r.name, targetOf(opts.regionUrls?.[r.name] ?? urls.get(r.name)!)]));
}

/** Where haproxy reaches each region: host:port per region. */
export function regionServers(ctx: Pick<PlanContext, 'topology' | 'inventory' | 'local'>, opts: HaproxyOptions = {}): Map<string, string> {
  return new Map([...serverTargets(ctx, opts)].map(([r, t]) => [r, t.address]));
}

const backend = (region: string): string => `region-${region}`;

/** TLS to an https node URL: the system CAs verify it, SNI and the check name its host. */
function tlsOptions(t: ServerTarget): string {
  return t.tlsHost === undefined ? '' : ` ssl verify required ca-file @system-ca sni str(${t.tlsHost}) check-sni ${t.tlsHost}`;
}

export function haproxyConfig(ctx: Pick<PlanContext, 'topology' | 'inventory' | 'local'>, opts: HaproxyOptions = {}): string {
  const { topology } = ctx;
  const dir = opts.mapDir ?? HAPROXY_DIR;
  const bind = opts.bind ?? (ctx.local !== undefined ? `127.0.0.1:${ctx.local.port('haproxy', 'http')}` : ':80');
  const steering = steeringPools(topology);
  const servers = serverTargets(ctx, opts);
  const capacity = topology.regions.reduce((n, r) => n + r.capacity.connections, 0);
  // Room above the regions' caps for connections that are waiting for a 503, health checks, etc.
  const maxconn = Math.ceil(capacity * 1.1) + 1000;
  const L: string[] = [];
  const add = (...lines: string[]): void => void L.push(...lines);

  add(
    '# Meridian edge for haproxy, generated by `meridian plan` from the topology. See haproxy/README.md.',
    'global',
    `  # maxconn follows the file descriptor limit: give haproxy LimitNOFILE >= ${2 * maxconn + 100} so it reaches ${maxconn}`,
    '  # (the regions\' caps plus room for answers); with less, haproxy lowers it and logs why.',
    '  log stdout format raw local0',
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  # Log errors and abnormal ends only (a busy edge); remove for a line per request.',
    '  option dontlog-normal',
    '  option http-keep-alive',
    '  # X-Forwarded-For: set by the frontend below. X-Meridian-Region on answers: written by the region node itself.',
    '  http-reuse safe',
    '  # Retry only what never reached a region (as the edge): a request a region may have acted on is not replayed.',
    '  retries 2',
    '  retry-on conn-failure',
    '  timeout connect 5s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout queue 5s',
    `  # WebSockets: an idle limit once upgraded (heartbeats keep live sockets under it), no total limit.`,
    `  timeout tunnel ${TUNNEL_TIMEOUT}`,
    '  timeout client-fin 30s',
    '  # haproxy\'s own failures answer like the Meridian edge: JSON with a stable code.',
    ...(
      [
        [502, 'EDGE_UPSTREAM_FAILED', 'the region failed before answering'],
        [503, 'EDGE_NO_REGION', 'no region can serve this client now'],
        [504, 'EDGE_UPSTREAM_TIMEOUT', 'the region did not answer in time'],
      ] as const
    ).map(([status, code, message]) => `  http-error status ${status} content-type application/json${status === 503 ? ' hdr Retry-After 2' : ''} string '{"error":{"code":"${code}","message":"${message}"}}'`),
    '  # A region whose DNS name does not resolve yet starts down instead of stopping haproxy.',
    '  default-server init-addr last,libc,none',
    '',
  );
  add(...frontendSection({ bind, maxconn, dir, regions: topology.regions.map((r) => r.name), steering, backend }));
  for (const r of topology.regions) {
    add(
      `backend ${backend(r.name)}`,
      '  balance leastconn',
      '  option httpchk',
      '  http-check send meth GET uri /ready',
      '  http-check expect status 200',
      '  timeout check 400ms',
      `  http-response add-header Set-Cookie "${AFFINITY_COOKIE}=${r.name}; Path=/; Max-Age=82800; HttpOnly; SameSite=Lax" if { status 101 }`,
      `  server ${r.name}-node-0 ${servers.get(r.name)!.address} check inter 500ms fall 2 rise 3 maxconn ${r.capacity.connections}${tlsOptions(servers.get(r.name)!)}`,
      '',
    );
  }
  const metrics = opts.metricsBind ?? (ctx.local !== undefined ? `127.0.0.1:${ctx.local.port('haproxy', 'metrics')}` : '127.0.0.1:8405');
  if (metrics !== false) {
    add(
      '# Prometheus metrics (haproxy_backend_up, sessions and caps per region) and the stats page, for operators only.',
      'frontend metrics',
      `  bind ${metrics}`,
      '  no log',
      '  http-request use-service prometheus-exporter if { path /metrics }',
      '  stats enable',
      '  stats uri /stats',
      '  stats refresh 5s',
      '',
    );
  }
  add(
    'backend no-region',
    '  http-request return status 503 content-type application/json hdr Retry-After 2 string \'{"error":{"code":"EDGE_NO_REGION","message":"no region can serve this client now"}}\'',
    '',
  );
  return L.join('\n');
}

/** `countries.map`: country → pool id (countries not listed use the default pool). */
export function countriesMap(ctx: Pick<PlanContext, 'topology'>): string {
  const s = steeringPools(ctx.topology);
  const lines = ['# country (ISO 3166-1 alpha-2, or a group such as EU) → pool: the regions to try, in order.', `# Every other country, and clients without one: ${s.defaultPool}`];
  for (const [c, id] of s.countries) lines.push(`${c} ${id}`);
  return lines.join('\n') + '\n';
}
