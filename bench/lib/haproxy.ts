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
