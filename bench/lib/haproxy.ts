/**
 * haproxy (Debian's package) as a bench baseline: a config for one backend written to a temp dir,
 * one thread like Node, keep-alive on both sides and connection reuse to the server, as a tuned
 * production haproxy would run. Started and stopped by the bench that uses it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/testing/mod.js';
import { startProgram, waitForPort } from './proc.js';

export const HAPROXY = '/usr/sbin/haproxy';

export interface Haproxy {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** haproxy on a free loopback port in front of `backendUrl`. */
export async function startHaproxy(backendUrl: string, serverName = 'backend'): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-haproxy-'));
  const port = await freePort();
  const up = new URL(backendUrl);
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  nbthread 1',
      '  maxconn 4000',
      'defaults',
      '  mode http',
      '  option http-keep-alive',
      '  http-reuse always',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      '  default_backend be',
      'backend be',
      `  server ${serverName} ${up.hostname}:${up.port}`,
      '',
    ].join('\n'),
  );
  return run(cfg, port, dir);
}

/**
 * haproxy running the config `meridian plan` generates (src/deploy/haproxy) for the built-in
 * topology, every region pointing at `backendUrl`: the same steering ACLs, /ready checks, caps
 * and affinity rules as in production. One thread (`nbthread 1` added to `global`), like the
 * hand-written baseline, so the row measures the generated rules, not a second core.
 */
export async function startGeneratedHaproxy(backendUrl: string): Promise<Haproxy> {
  const { renderHaproxy } = await import('../../src/deploy/haproxy/mod.js');
  const { inventory } = await import('../../src/deploy/inventory.js');
  const { defaultTopology } = await import('../../src/topology/mod.js');
  const dir = mkdtempSync(join(tmpdir(), 'meridian-haproxy-gen-'));
  const port = await freePort();
  const topology = defaultTopology();
  const files = renderHaproxy(
    { topology, inventory: inventory(topology), outDir: dir, secrets: { get: (_name, make) => make() } },
    { regionUrls: Object.fromEntries(topology.regions.map((r) => [r.name, backendUrl])), bind: `127.0.0.1:${port}`, metricsBind: false, mapDir: dir },
  );
  for (const f of files) writeFileSync(join(dir, f.path.slice(f.path.indexOf('/') + 1)), f.content);
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, String(files.find((f) => f.path === 'haproxy/haproxy.cfg')?.content).replace('\nglobal\n', '\nglobal\n  nbthread 1\n'));
  return run(cfg, port, dir);
}

/**
 * The fair baseline for the generated config: haproxy doing the same job, written by hand the
 * plain way (each step a rule, evaluated per request), for the built-in topology with every
 * region at `backendUrl`: the country of a trusted upstream's CF-IPCountry / X-Country header or
 * of the GeoIP map, its pool from countries.map (the topology's table, the one data file taken
 * from the plan), affinity by header or cookie where the pool allows it, the first candidate up
 * and below its cap, X-Forwarded-For to the region, the affinity cookie on an upgrade, /ready
 * checks, errors logged (X-Meridian-Region on answers is the region node's own, as in
 * production). The bare `startHaproxy` config does none of this; the gap between the two rows
 * is what the edge's job costs haproxy.
 */
export async function startHandSteeringHaproxy(backendUrl: string): Promise<Haproxy> {
  const { countriesMap } = await import('../../src/deploy/haproxy/mod.js');
  const { defaultTopology } = await import('../../src/topology/mod.js');
  const dir = mkdtempSync(join(tmpdir(), 'meridian-haproxy-hand-'));
  const port = await freePort();
  const up = new URL(backendUrl);
  const topology = defaultTopology();
  const map = countriesMap({ topology });
  writeFileSync(join(dir, 'countries.map'), map);
  writeFileSync(join(dir, 'trusted.lst'), '127.0.0.0/8\n::1\n');
  writeFileSync(join(dir, 'geoip.map'), '');
  const regions = topology.regions.map((r) => r.name);
  // Pool ids name their regions in the order to try them (`pool:eu-west:us-east:…`); the map's
  // header names the default pool.
  const all = /clients without one: (\S+)/.exec(map)?.[1] ?? '';
  const pools = [all, ...new Set(map.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(' ')[1]!))];
  const region = (name: string, cap: number): string[] => [
    `backend ${name}`,
    '  option httpchk GET /ready',
    `  http-response add-header Set-Cookie "meridian_region=${name}; Path=/; Max-Age=82800; HttpOnly; SameSite=Lax" if { status 101 }`,
    `  server ${name} ${up.hostname}:${up.port} check inter 500ms fall 2 rise 3 maxconn ${cap}`,
  ];
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  nbthread 1',
      '  maxconn 4000',
      '  log stdout format raw local0',
      'defaults',
      '  mode http',
      '  log global',
      '  option httplog',
      '  option dontlog-normal',
      '  option http-keep-alive',
      '  option forwardfor',
      '  http-reuse always',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
        `  acl trusted src -f ${dir}/trusted.lst`,
      `  http-request set-var(txn.pool) src,map_ip(${dir}/geoip.map),map(${dir}/countries.map,${all})`,
      `  http-request set-var(txn.pool) str(${all}) unless { var(txn.pool) -m found }`,
      `  http-request set-var(txn.pool) req.hdr(X-Country),upper,map(${dir}/countries.map,${all}) if trusted { req.hdr(X-Country) -m found }`,
      `  http-request set-var(txn.pool) req.hdr(CF-IPCountry),upper,map(${dir}/countries.map,${all}) if trusted { req.hdr(CF-IPCountry) -m found }`,
      '  http-request set-var(txn.region) req.cook(meridian_region)',
      '  http-request set-var(txn.region) req.hdr(X-Meridian-Region) if { req.hdr(X-Meridian-Region) -m found }',
      // Pool ids name their regions, so "the pool allows it" is a substring test here.
      ...regions.map((r) => `  use_backend ${r} if { var(txn.region) -m str ${r} } { var(txn.pool) -m sub ${r} } { nbsrv(${r}) gt 0 } { be_conn_free(${r}) gt 0 }`),
      ...pools.flatMap((id) => id.split(':').slice(1).map((r) => `  use_backend ${r} if { var(txn.pool) -m str ${id} } { nbsrv(${r}) gt 0 } { be_conn_free(${r}) gt 0 }`)),
      '  default_backend none',
      ...topology.regions.flatMap((r) => region(r.name, r.capacity.connections)),
      'backend none',
      '  http-request return status 503',
      '',
    ].join('\n'),
  );
  return run(cfg, port, dir);
}

/** haproxy on `cfg`, answering on `port`; stopping it removes `dir`. */
async function run(cfg: string, port: number, dir: string): Promise<Haproxy> {
  const p = startProgram(HAPROXY, ['-db', '-f', cfg]);
  await waitForPort(port);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: p.child.pid ?? 0,
    async stop() {
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
