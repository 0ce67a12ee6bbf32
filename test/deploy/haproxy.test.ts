/**
 * The haproxy edge generator: the steering table (candidate regions per country), `haproxy -c` on
 * the generated config, and the real haproxy in front of `meridian up`'s three regions steering an
 * HTTP request and a WebSocket to the right region, keeping residency over affinity, and failing
 * over when a region goes down. Skipped (with the reason) without haproxy, unless CI=true.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { planCloudflare } from '../../src/deploy/cloudflare.js';
import { candidates, regionNodeUrls, renderHaproxy, steeringPools } from '../../src/deploy/haproxy/mod.js';
import { inventory } from '../../src/deploy/inventory.js';
import type { PlanContext, PlannedFile } from '../../src/deploy/types.js';
import { SUBPROTOCOL } from '../../src/protocol/mod.js';
import { freePort } from '../../src/testing/mod.js';
import { DEFAULT_TOPOLOGY_YAML, defaultTopology, parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';
import { eventually } from '../node/client.js';

const run = promisify(execFile);
const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => {
  try {
    execFileSync(p, ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (HAPROXY === undefined && process.env['CI'] === 'true') throw new Error('CI=true but haproxy is not installed (apt-get install haproxy)');
if (HAPROXY === undefined) console.warn('haproxy.test.ts: the haproxy suites are skipped: haproxy is not installed (apt-get install haproxy)');
const withHaproxy = HAPROXY === undefined ? describe.skip : describe;

function planContext(topology: Topology): PlanContext {
  return { topology, inventory: inventory(topology), outDir: '/nonexistent', secrets: { get: <T>(_: string, make: () => T): T => make() } };
}

const dirs: string[] = [];
function writeAll(files: readonly PlannedFile[]): string {
  const d = mkdtempSync(join(tmpdir(), 'meridian-haproxy-test-'));
  dirs.push(d);
  for (const f of files) {
    mkdirSync(dirname(join(d, f.path)), { recursive: true });
    writeFileSync(join(d, f.path), f.content);
  }
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('haproxy: steering table', () => {
  const t = defaultTopology();
  it('lists, per country, the pool, its fallbacks, then what strict residency allows', () => {
    expect(candidates(t, 'FR')).toEqual(['eu-west']); // gdpr: EU jurisdiction only
    expect(candidates(t, 'GB')).toEqual(['eu-west', 'us-east', 'ap-southeast']);
    expect(candidates(t, 'SG')).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    expect(candidates(t, 'US')).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    expect(candidates(t, undefined)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
  });

  it('maps every named country and group, and leaves the rest to the default pool', () => {
    const s = steeringPools(t);
    expect(s.defaultPool).toBe('pool:us-east:eu-west:ap-southeast');
    expect(s.countries.get('DE')).toBe('pool:eu-west');
    expect(s.countries.get('EU')).toBe('pool:eu-west');
    expect(s.countries.get('GB')).toBe('pool:eu-west:us-east:ap-southeast');
    expect(s.countries.get('VN')).toBe('pool:ap-southeast:eu-west:us-east');
    expect(s.countries.has('US')).toBe(false); // same list as the default pool
    expect(s.countries.has('JP')).toBe(false);
  });
});

withHaproxy('haproxy: the generated config', () => {
  it('passes haproxy -c for both example topologies', async () => {
    for (const file of ['examples/meridian.yaml', 'examples/five-regions.yaml']) {
      const { loadTopology } = await import('../../src/topology/mod.js');
      const t = await loadTopology(file);
      const files = renderHaproxy(planContext(t), { mapDir: '@DIR@' });
      const d = writeAll(files.map((f) => ({ ...f, content: String(f.content).replaceAll('@DIR@', '') })));
      const cfg = join(d, 'haproxy', 'haproxy.cfg');
      writeFileSync(cfg, String(files[0]!.content).replaceAll('@DIR@', join(d, 'haproxy')));
      const { stdout, stderr } = await run(HAPROXY!, ['-c', '-f', cfg]);
      expect(stdout + stderr).toContain('Configuration file is valid');
    }
  });

  it('writes countries.map, the trusted list, an empty GeoIP map with its recipe, and a README', () => {
    const files = renderHaproxy(planContext(defaultTopology()));
    const text = (p: string): string => String(files.find((f) => f.path === p)?.content);
    expect(files.map((f) => f.path)).toEqual([
      'haproxy/haproxy.cfg',
      'haproxy/countries.map',
      'haproxy/trusted-proxies.lst',
      'haproxy/geoip-country.map',
      'haproxy/geoip-from-geolite2.sh',
      'haproxy/README.md',
    ]);
    expect(text('haproxy/countries.map')).toContain('\nDE pool:eu-west\n');
    expect(text('haproxy/haproxy.cfg')).toContain('map_ip(/etc/haproxy/meridian/geoip-country.map)');
    expect(text('haproxy/haproxy.cfg')).toContain('timeout tunnel 1h');
    expect(text('haproxy/haproxy.cfg')).toContain('server ap-southeast-node-0 10.77.3.100:7703 check inter 500ms fall 2 rise 3 maxconn 5000');
    expect(text('haproxy/geoip-from-geolite2.sh')).toContain('GeoLite2-Country-Blocks-IPv4.csv');
  });

  // deploy.hosts is a lighthouse's public address with the VPN, and the NATS gateway
  // LoadBalancer on Kubernetes: the edge must reach the node instead.
  const HOSTS = `  hosts: { us-east: 203.0.113.10, eu-west: 198.51.100.20, ap-southeast: 192.0.2.30 }\n`;
  const deployed = (deploy: string): Topology => parseTopology(`${DEFAULT_TOPOLOGY_YAML}deploy:\n${deploy}`, 'm.yaml');
  const servers = (t: Topology): string[] => String(renderHaproxy(planContext(t))[0]!.content).split('\n').filter((l) => l.trimStart().startsWith('server '));
  const origins = async (t: Topology): Promise<unknown[]> =>
    (JSON.parse(String((await planCloudflare(planContext(t)))[0]!.content)) as { pools: { origins: { address: string }[] }[] }).pools.map((p) => p.origins[0]!.address);

  it('targets the node hosts (overlay IPs, for the edge host on the mesh) with the VPN, never the lighthouses of deploy.hosts', async () => {
    const t = deployed(HOSTS);
    expect(servers(t)).toEqual([
      '  server us-east-node-0 10.77.1.100:7701 check inter 500ms fall 2 rise 3 maxconn 10000',
      '  server eu-west-node-0 10.77.2.100:7702 check inter 500ms fall 2 rise 3 maxconn 10000',
      '  server ap-southeast-node-0 10.77.3.100:7703 check inter 500ms fall 2 rise 3 maxconn 5000',
    ]);
    expect(regionNodeUrls(planContext(t))).toEqual(new Map([['us-east', 'http://10.77.1.100:7701'], ['eu-west', 'http://10.77.2.100:7702'], ['ap-southeast', 'http://10.77.3.100:7703']]));
    // Cloudflare cannot reach the overlay and the plan knows no public node address: placeholders.
    expect(await origins(t)).toEqual(['us-east.origin.example.com', 'eu-west.origin.example.com', 'ap-southeast.origin.example.com']);
    // Without a VPN, deploy.hosts is the region's one address, its node's too.
    const none = deployed(`${HOSTS}  vpn: { kind: none }\n`);
    expect(servers(none)[0]).toBe('  server us-east-node-0 203.0.113.10:7701 check inter 500ms fall 2 rise 3 maxconn 10000');
    expect(await origins(none)).toEqual(['203.0.113.10', '198.51.100.20', '192.0.2.30']);
  });

  it('targets deploy.kubernetes.nodeUrls where set (TLS verified for https), and haproxy -c accepts it', async () => {
    const t = deployed(`${HOSTS}  kubernetes:\n    nodeUrls: { us-east: 'https://us.example.com', eu-west: 'http://198.51.100.21' }\n`);
    expect(servers(t)).toEqual([
      '  server us-east-node-0 us.example.com:443 check inter 500ms fall 2 rise 3 maxconn 10000 ssl verify required ca-file @system-ca sni str(us.example.com) check-sni us.example.com',
      '  server eu-west-node-0 198.51.100.21:80 check inter 500ms fall 2 rise 3 maxconn 10000',
      '  server ap-southeast-node-0 10.77.3.100:7703 check inter 500ms fall 2 rise 3 maxconn 5000',
    ]);
    expect(await origins(t)).toEqual(['us.example.com', '198.51.100.21', 'ap-southeast.origin.example.com']);
    const files = renderHaproxy(planContext(t), { mapDir: '@DIR@' });
    const d = writeAll(files.map((f) => ({ ...f, content: String(f.content).replaceAll('@DIR@', '') })));
    const cfg = join(d, 'haproxy', 'haproxy.cfg');
    writeFileSync(cfg, String(files[0]!.content).replaceAll('@DIR@', join(d, 'haproxy')));
    const { stdout, stderr } = await run(HAPROXY!, ['-c', '-f', cfg]);
    expect(stdout + stderr).toContain('Configuration file is valid');
  });
});

interface UpInfo {
  regions: Record<string, string>;
  edge: string;
  adminToken?: string;
}

withHaproxy('haproxy: in front of meridian up', () => {
  let up: ChildProcess;
  let hap: ChildProcess;
  let info: UpInfo;
  let base: string;
  let metricsPort: number;
  let hapErr = '';

  beforeAll(async () => {
    up = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'up', '--port-base', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    up.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    // Generous: on a loaded 2-core machine `meridian up` (three regions, tsx) can take a while.
    await eventually(() => out.includes('\n') || up.exitCode !== null, 'meridian up --json', 60_000);
    info = JSON.parse(out) as UpInfo;
    const port = await freePort();
    metricsPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    const files = renderHaproxy(planContext(defaultTopology()), { regionUrls: info.regions, bind: `127.0.0.1:${port}`, metricsBind: `127.0.0.1:${metricsPort}`, mapDir: '@DIR@' });
    const d = writeAll(files);
    const cfg = join(d, 'haproxy', 'haproxy.cfg');
    writeFileSync(cfg, String(files[0]!.content).replaceAll('@DIR@', join(d, 'haproxy')));
    hap = spawn(HAPROXY!, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    hap.stdout!.on('data', (b: Buffer) => (hapErr += b.toString()));
    hap.stderr!.on('data', (b: Buffer) => (hapErr += b.toString()));
    await eventually(async () => (await fetch(`${base}/health`).catch(() => undefined))?.status === 200, `haproxy on ${base}`, 15_000);
  }, 90_000);

  afterAll(async () => {
    hap?.kill('SIGTERM');
    if (up?.exitCode === null) {
      up.kill('SIGTERM');
      await new Promise((r) => up.once('exit', r));
    }
  });

  const get = async (headers: Record<string, string>): Promise<{ status: number; region: string | undefined; header: string | null }> => {
    const res = await fetch(`${base}/health`, { headers });
    // haproxy's own answers (a refused connection before the check notices) are not JSON.
    const body = (await res.json().catch(() => ({}))) as { region?: string };
    return { status: res.status, region: body.region, header: res.headers.get('x-meridian-region') };
  };

  it('sends HTTP requests to the region of the country header, and clients without one to the default pool', async () => {
    expect(await get({})).toEqual({ status: 200, region: 'us-east', header: 'us-east' });
    expect(await get({ 'X-Country': 'DE' })).toEqual({ status: 200, region: 'eu-west', header: 'eu-west' });
    expect(await get({ 'CF-IPCountry': 'sg' })).toEqual({ status: 200, region: 'ap-southeast', header: 'ap-southeast' });
    expect(await get({ 'X-Country': 'US' })).toEqual({ status: 200, region: 'us-east', header: 'us-east' });
  });

  it('bridges a WebSocket to the right region and sets the affinity cookie on the upgrade', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, SUBPROTOCOL, { headers: { 'X-Country': 'SG' } });
    let cookie: string | undefined;
    ws.on('upgrade', (res) => (cookie = String(res.headers['set-cookie'])));
    const welcome = await new Promise<{ type: string; region: string }>((resolve, reject) => {
      ws.once('open', () => ws.send(JSON.stringify({ type: 'auth', id: 'a', user: 'alice' })));
      ws.on('message', (data: Buffer) => {
        const f = JSON.parse(data.toString()) as { type: string; region: string };
        if (f.type === 'welcome') resolve(f);
      });
      ws.once('error', reject);
    });
    expect(welcome.region).toBe('ap-southeast');
    expect(cookie).toContain('meridian_region=ap-southeast; Path=/; Max-Age=82800; HttpOnly; SameSite=Lax');
    ws.close();
  }, 15_000);

  it('exports each region backend\'s health to Prometheus', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    for (const r of ['us-east', 'eu-west', 'ap-southeast']) expect(text).toContain(`haproxy_backend_status{proxy="region-${r}",state="UP"} 1`);
  });

  it('honours affinity only where strict residency allows it', async () => {
    expect((await get({ 'X-Country': 'GB', Cookie: 'meridian_region=ap-southeast' })).region).toBe('ap-southeast');
    expect((await get({ 'X-Country': 'GB', Cookie: 'meridian_region=ap-southeast', 'X-Meridian-Region': 'us-east' })).region).toBe('us-east');
    expect((await get({ 'X-Country': 'DE', Cookie: 'meridian_region=us-east' })).region).toBe('eu-west');
  });

  it('fails over to the next candidate when a region goes down, and refuses where residency allows none', async () => {
    const admin: RequestInit = { method: 'POST', headers: info.adminToken === undefined ? {} : { authorization: `Bearer ${info.adminToken}` } };
    expect((await fetch(`${info.edge}/v1/admin/regions/eu-west/down`, admin)).status).toBe(202);
    try {
      await eventually(async () => (await get({ 'X-Country': 'GB' })).region === 'us-east', 'GB failing over to us-east', 5_000);
      const refused = await fetch(`${base}/health`, { headers: { 'X-Country': 'FR' } });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('2');
      expect(await refused.json()).toMatchObject({ error: { code: 'EDGE_NO_REGION' } });
    } finally {
      expect((await fetch(`${info.edge}/v1/admin/regions/eu-west/up`, admin)).status).toBe(202);
    }
    await eventually(async () => (await get({ 'X-Country': 'FR' })).region === 'eu-west', 'eu-west back', 10_000);
  }, 20_000);

  // A second haproxy from a topology capping us-east at one connection, with its GeoIP map built
  // by the generated script from a two-line fake GeoLite2 Country CSV that puts 127.0.0.0/8 in SG.
  it('overflows to the next region at a region\'s connection cap, and steers by the GeoIP map the script builds from GeoLite2 CSV', async () => {
    const yaml = DEFAULT_TOPOLOGY_YAML.replace('capacity: { connections: 10000, rps: 10000 }', 'capacity: { connections: 1, rps: 10000 }');
    expect(yaml).not.toBe(DEFAULT_TOPOLOGY_YAML);
    const capped = parseTopology(yaml, 'capped.yaml');
    expect(capped.regions[0]).toMatchObject({ name: 'us-east', capacity: { connections: 1 } });
    const port = await freePort();
    const files = renderHaproxy(planContext(capped), { regionUrls: info.regions, bind: `127.0.0.1:${port}`, metricsBind: false, mapDir: '@DIR@' });
    const d = writeAll(files);
    const cfg = join(d, 'haproxy', 'haproxy.cfg');
    expect(String(files[0]!.content)).toContain(`server us-east-node-0 ${new URL(info.regions['us-east']!).host} check inter 500ms fall 2 rise 3 maxconn 1`);
    writeFileSync(cfg, String(files[0]!.content).replaceAll('@DIR@', join(d, 'haproxy')));

    // MaxMind's layout: Locations (geoname_id → country_iso_code, 5th column), Blocks (network,
    // geoname_id, registered_country_geoname_id, …). 203.0.113.0/24 has only a registered country.
    const csv = join(d, 'GeoLite2-Country-CSV_20260101');
    mkdirSync(csv);
    writeFileSync(join(csv, 'GeoLite2-Country-Locations-en.csv'), 'geoname_id,locale_code,continent_code,continent_name,country_iso_code,country_name,is_in_european_union\n1880251,en,AS,Asia,SG,Singapore,0\n2921044,en,EU,Europe,DE,Germany,1\n');
    writeFileSync(join(csv, 'GeoLite2-Country-Blocks-IPv4.csv'), 'network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,is_anonymous_proxy,is_satellite_provider,is_anycast\n127.0.0.0/8,1880251,1880251,,0,0,\n203.0.113.0/24,,2921044,,0,0,\n');
    writeFileSync(join(csv, 'GeoLite2-Country-Blocks-IPv6.csv'), 'network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,is_anonymous_proxy,is_satellite_provider,is_anycast\n2001:db8::/32,2921044,2921044,,0,0,\n');
    const map = (await run('sh', [join(d, 'haproxy', 'geoip-from-geolite2.sh'), csv])).stdout;
    expect(map).toBe('# generated from GeoLite2-Country-CSV_20260101 by geoip-from-geolite2.sh\n127.0.0.0/8 SG\n203.0.113.0/24 DE\n2001:db8::/32 DE\n');
    writeFileSync(join(d, 'haproxy', 'geoip-country.map'), map);

    const hap2 = spawn(HAPROXY!, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    hap2.stdout.on('data', (b: Buffer) => (log += b.toString()));
    hap2.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const at = `http://127.0.0.1:${port}`;
    const region = async (headers: Record<string, string>): Promise<string | undefined> => {
      const res = await fetch(`${at}/health`, { headers });
      return ((await res.json().catch(() => ({}))) as { region?: string }).region;
    };
    let ws: WebSocket | undefined;
    try {
      await eventually(async () => (await fetch(`${at}/health`).catch(() => undefined))?.status === 200, `the capped haproxy on ${at} (${log})`, 15_000);
      // GeoIP: this client (127.0.0.1) is in SG by the map, so without a header it goes to ap-southeast.
      expect(await region({})).toBe('ap-southeast');
      // US (a trusted header: the default pool, us-east first) goes to us-east while it has room.
      expect(await region({ 'X-Country': 'US' })).toBe('us-east');
      // One WebSocket held open fills us-east's one connection …
      const socket = new WebSocket(`${at.replace('http', 'ws')}/ws`, SUBPROTOCOL, { headers: { 'X-Country': 'US' } });
      ws = socket;
      const welcome = await new Promise<{ region: string }>((resolve, reject) => {
        socket.once('open', () => socket.send(JSON.stringify({ type: 'auth', id: 'a', user: 'capped' })));
        socket.on('message', (data: Buffer) => {
          const f = JSON.parse(data.toString()) as { type: string; region: string };
          if (f.type === 'welcome') resolve(f);
        });
        socket.once('error', reject);
      });
      expect(welcome.region).toBe('us-east');
      // … so the next US request overflows to the next region of the pool, eu-west,
      expect(await region({ 'X-Country': 'US' })).toBe('eu-west');
      expect(await region({ 'X-Country': 'US' })).toBe('eu-west');
      // and once it closes, us-east takes requests again.
      socket.close();
      await eventually(async () => (await region({ 'X-Country': 'US' })) === 'us-east', 'us-east below its cap again', 10_000);
    } finally {
      ws?.terminate();
      hap2.kill('SIGTERM');
    }
  }, 40_000);
});

// The generated frontend computes the GeoIP pool once per connection and skips the per-request
// rules when a request carries no steering input of its own (src/deploy/haproxy/frontend.ts).
// These run the real haproxy in front of one HTTP server per region, each naming itself in
// X-Meridian-Region as a region node does, and send each sequence
// on ONE keep-alive connection, so a request's own inputs must win over what the connection's
// earlier requests had, and a request without any must go back to the connection's pool.
withHaproxy('haproxy: steering on one keep-alive connection', () => {
  const regionServers: Server[] = [];
  const regionUrls: Record<string, string> = {};
  const running: ChildProcess[] = [];

  beforeAll(async () => {
    // What the region received: the forwarded headers haproxy adds.
    for (const r of defaultTopology().regions) {
      const server = createServer((req, res) => {
        if (req.url === '/ready') return void res.writeHead(200).end();
        res.writeHead(200, { 'content-type': 'application/json', 'x-meridian-region': r.name }).end(JSON.stringify({ xff: req.headers['x-forwarded-for'], xfp: req.headers['x-forwarded-proto'] }));
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      regionServers.push(server);
      regionUrls[r.name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
  });
  afterAll(async () => {
    for (const p of running) p.kill('SIGTERM');
    await Promise.all(regionServers.map((server) => new Promise((r) => server.close(r))));
  });

  /** The generated haproxy for the default topology, each region at its stand-in, with these side files. */
  async function start(files: { geoip?: string; trusted?: string } = {}): Promise<string> {
    const t = defaultTopology();
    const port = await freePort();
    const planned = renderHaproxy(planContext(t), { regionUrls, bind: `127.0.0.1:${port}`, metricsBind: false, mapDir: '@DIR@' });
    const d = writeAll(planned);
    const cfg = join(d, 'haproxy', 'haproxy.cfg');
    writeFileSync(cfg, String(planned[0]!.content).replaceAll('@DIR@', join(d, 'haproxy')));
    if (files.geoip !== undefined) writeFileSync(join(d, 'haproxy', 'geoip-country.map'), files.geoip);
    if (files.trusted !== undefined) writeFileSync(join(d, 'haproxy', 'trusted-proxies.lst'), files.trusted);
    const p = spawn(HAPROXY!, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.push(p);
    let log = '';
    p.stdout.on('data', (b: Buffer) => (log += b.toString()));
    p.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const base = `http://127.0.0.1:${port}`;
    // Up after 3 checks 500 ms apart; until then a region is down and the answer a 503.
    await eventually(async () => (await fetch(`${base}/x`, { headers: { 'X-Country': 'DE' } }).catch(() => undefined))?.status === 200 && (await fetch(`${base}/x`, { headers: { 'X-Country': 'SG' } })).status === 200 && (await fetch(`${base}/x`)).status === 200, `haproxy on ${base} (${log})`, 15_000);
    return base;
  }

  interface Answer {
    readonly region: string | undefined;
    readonly xff: string | undefined;
    readonly xfp: string | undefined;
    /** Whether it went over the connection of the requests before it. */
    readonly reused: boolean;
  }
  /** Sends each header set in turn on one keep-alive connection (names sent with the case given). */
  async function onOneConnection(base: string, sequence: readonly Record<string, string>[]): Promise<Answer[]> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const out: Answer[] = [];
    try {
      for (const headers of sequence) {
        out.push(
          await new Promise<Answer>((resolve, reject) => {
            const req = httpRequest(`${base}/v1/ping`, { headers, agent }, (res) => {
              let body = '';
              res.on('data', (d: Buffer) => (body += d.toString()));
              res.on('end', () => {
                const seen = JSON.parse(body) as { xff?: string; xfp?: string };
                resolve({ region: res.headers['x-meridian-region'] as string | undefined, xff: seen.xff, xfp: seen.xfp, reused: req.reusedSocket });
              });
            });
            req.on('error', reject);
            req.end();
          }),
        );
      }
    } finally {
      agent.destroy();
    }
    return out;
  }
  const regions = (answers: readonly Answer[]): (string | undefined)[] => answers.map((a) => a.region);

  it('steers each request by its own country header, affinity header and cookie, and one without any by the connection\'s pool', async () => {
    const base = await start();
    const answers = await onOneConnection(base, [
      {},
      { 'X-Country': 'DE' },
      {},
      { 'CF-IPCountry': 'sg', 'X-Country': 'DE' }, // CF-IPCountry wins
      { 'X-COUNTRY': 'gb' }, // any case of the name
      { Cookie: 'a=1; meridian_region=ap-southeast' },
      { 'X-Country': 'DE', Cookie: 'meridian_region=us-east' }, // residency over affinity
      { Cookie: 'meridian_region=eu-west', 'X-Meridian-Region': 'us-east' }, // the header over the cookie
      { Cookie: 'xmeridian_region=ap-southeast' }, // another cookie: no affinity
      {},
    ]);
    expect(regions(answers)).toEqual(['us-east', 'eu-west', 'us-east', 'ap-southeast', 'eu-west', 'ap-southeast', 'eu-west', 'us-east', 'us-east', 'us-east']);
    expect(answers.slice(1).every((a) => a.reused)).toBe(true);
    // X-Forwarded-For reaches the region on the short path and the long one; no X-Forwarded-Proto
    // (the bind is plain HTTP and no node reads it: frontend.ts).
    for (const a of answers) expect([a.xff, a.xfp]).toEqual(['127.0.0.1', undefined]);
  }, 30_000);

  it('keeps the connection\'s GeoIP country for requests without a header, and ignores country headers from an untrusted source', async () => {
    // 127.0.0.1 is in SG by this map: pool ap-southeast, eu-west, us-east.
    const trusted = await start({ geoip: '127.0.0.0/8 SG\n' });
    expect(regions(await onOneConnection(trusted, [{}, { 'X-Country': 'US' }, {}, { 'CF-IPCountry': 'FR' }, { Cookie: 'meridian_region=us-east' }, {}]))).toEqual([
      'ap-southeast',
      'us-east',
      'ap-southeast',
      'eu-west',
      'us-east',
      'ap-southeast',
    ]);
    // Loopback no longer a trusted upstream: its headers are ignored, affinity still counts.
    const untrusted = await start({ geoip: '127.0.0.0/8 SG\n', trusted: '192.0.2.0/24\n' });
    expect(regions(await onOneConnection(untrusted, [{ 'X-Country': 'US' }, {}, { 'CF-IPCountry': 'FR', 'X-Country': 'DE' }, { 'X-Meridian-Region': 'eu-west', 'X-Country': 'DE' }, {}]))).toEqual([
      'ap-southeast',
      'ap-southeast',
      'ap-southeast',
      'eu-west',
      'ap-southeast',
    ]);
  }, 45_000);
});
