/**
 * Service proxy overhead on loopback, every side measured in the same run.
 *
 * `GET /v1/services/bench/ping` straight to a stand-in worker, and through: `http-proxy` (npm,
 * keep-alive agent), haproxy (Debian, one thread, keep-alive and connection reuse) and the
 * Meridian services module (registry view, P2C, breaker, timeout, bulkhead, retry budget,
 * header rewriting, streaming) mounted in a node:http server the way a region node mounts it,
 * on the embedded bus. Worker and each proxy run in their own process; wrk is the load generator.
 * For each side: throughput (`--concurrency` keep-alive connections, `--seconds`) and latency at
 * one connection (`--latency-seconds`); "added" is the side minus direct from the same run. For
 * the Node proxies, the CPU time their process spent per request during the throughput run:
 * the figure least disturbed by whatever else runs on the machine.
 * Rounds interleave the sides; each keeps its least disturbed run. On a shared 2-core machine
 * the proxy gets about one core (wrk and the worker share the other).
 *
 *   npx tsx bench/services-proxy.ts [--seconds 3] [--latency-seconds 2] [--concurrency 32] [--rounds 2] [--json out.json]
 */
import type { RequestInfo } from '../src/module/http-module.js';
import { Agent, createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';
import { EmbeddedNetwork } from '../src/bus/embedded/mod.js';
import { createServicesModule } from '../src/services/mod.js';
import { defaultTopology, linkLatencyMs } from '../src/topology/mod.js';
import { exitWithParent, forkRole, listen, sleep } from './lib/proc.js';
import type { Role } from './lib/proc.js';
import { startHaproxy } from './lib/haproxy.js';
import { emit, maxCheck, missing, ratioCheck } from './lib/report.js';
import type { Check } from './lib/report.js';
import { fmt, signed, table } from './lib/stats.js';
import { wrk } from './lib/wrk.js';
import type { WrkResult } from './lib/wrk.js';

// The module alone, without a node in front: every request comes as the operator would
// (access rules are tested through a real node in test/services/access.test.ts).
const OPERATOR: RequestInfo = { caller: () => Promise.resolve({ kind: 'admin' }) };

const BENCH = 'services proxy';
const PATH = '/v1/services/bench/ping';
const self = fileURLToPath(import.meta.url);

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    'latency-seconds': { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    role: { type: 'string' },
    worker: { type: 'string' },
    json: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const latencySeconds = Number(values['latency-seconds']);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);

// Requests served by this role process, and its CPU time: CPU per request is the measure that
// other load on the machine disturbs least (throughput on a shared 2-core box swings a lot).
let served = 0;
function answerStats(): void {
  process.on('message', () => {
    const c = process.cpuUsage();
    process.send?.({ cpuUs: c.user + c.system, served });
  });
}


if (values.role === 'worker') {
  const body = '{"ok":true}';
  const worker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });
  process.send?.(await listen(worker));
  exitWithParent();
} else if (values.role === 'mesh') {
  // One region node's services module on the embedded bus, with the worker registered.
  const topology = defaultTopology();
  const net = new EmbeddedNetwork(
    topology.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })),
    { latencyMs: (a, b) => linkLatencyMs(topology, a, b) },
  );
  const mod = await createServicesModule({ bus: net.connect('us-east'), topology, registrationToken: 'bench-registration-token-0000', egress: { allowLoopback: true } });
  await mod.registry.register({ id: 'bench-1', region: 'us-east', services: [{ name: 'bench', url: values.worker ?? '' }] });
  const beat = setInterval(() => void mod.registry.heartbeat('bench-1', { inFlight: 0 }).catch(() => undefined), 2000);
  const server = createServer((req, res) => {
    served++;
    const url = new URL(req.url ?? '/', 'http://node');
    Promise.resolve(mod.handle(req, res, url, OPERATOR))
      .then((took) => {
        if (!took) res.writeHead(404).end();
      })
      .catch(() => res.destroy());
  });
  answerStats();
  process.send?.(await listen(server));
  exitWithParent(async () => {
    clearInterval(beat);
    await mod.close();
    await net.close();
  });
} else if (values.role === 'http-proxy') {
  const proxy = httpProxy.createProxyServer({ target: values.worker ?? '', agent: new Agent({ keepAlive: true }), xfwd: true });
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  answerStats();
  process.send?.(
    await listen(
      createServer((req, res) => {
        served++;
        proxy.web(req, res);
      }),
    ),
  );
  exitWithParent();
} else {
  await main();
}

interface Side {
  readonly name: string;
  readonly throughput: WrkResult;
  readonly latency: WrkResult;
  /** CPU µs per request of the proxy process during the throughput run (Node sides only). */
  readonly cpuUsPerRequest?: number;
}

interface Stats {
  readonly cpuUs: number;
  readonly served: number;
}

async function measure(name: string, base: string, role?: Role<string>): Promise<Side> {
  const url = `${base}${PATH}`;
  const probe = await fetch(url);
  const text = await probe.text();
  if (!probe.ok) throw new Error(`${name}: ${probe.status} ${text}`);
  await wrk(url, { connections: concurrency, seconds: 1 });
  const before = role ? await role.ask<Stats>('stats') : undefined;
  const throughput = await wrk(url, { connections: concurrency, seconds });
  const after = role ? await role.ask<Stats>('stats') : undefined;
  const latency = await wrk(url, { connections: 1, seconds: latencySeconds });
  if (throughput.errors > 0 || latency.errors > 0) {
    const after = await fetch(url);
    throw new Error(`${name}: ${throughput.errors + latency.errors} errors or non-2xx answers; now: ${after.status} ${await after.text()}`);
  }
  const cpu = before && after && after.served > before.served ? (after.cpuUs - before.cpuUs) / (after.served - before.served) : undefined;
  return { name, throughput, latency, ...(cpu !== undefined ? { cpuUsPerRequest: cpu } : {}) };
}

async function main(): Promise<void> {
  const roles: Role<string>[] = [];
  let haproxy: { url: string; stop(): Promise<void> } | undefined;
  try {
    const worker = await forkRole<string>(self, 'worker');
    roles.push(worker);
    const mesh = await forkRole<string>(self, 'mesh', ['--worker', worker.ready]);
    const hp = await forkRole<string>(self, 'http-proxy', ['--worker', worker.ready]);
    roles.push(mesh, hp);
    haproxy = await startHaproxy(worker.ready, 'worker');
    await sleep(200);
    const order: [string, string, Role<string> | undefined][] = [
      ['direct', worker.ready, undefined],
      ['http-proxy', hp.ready, hp],
      ['haproxy', haproxy.url, undefined],
      ['meridian', mesh.ready, mesh],
    ];
    const runs: Side[] = [];
    for (let r = 0; r < rounds; r++) for (const [name, url, role] of order) runs.push(await measure(name, url, role));
    const sides: Side[] = order.map(([name]) => {
      const mine = runs.filter((x) => x.name === name);
      const best = <T>(pick: (x: Side) => T, score: (x: Side) => number): T => pick(mine.reduce((a, b) => (score(b) > score(a) ? b : a)));
      const cpus = mine.map((x) => x.cpuUsPerRequest).filter((x): x is number => x !== undefined);
      return {
        name,
        throughput: best((x) => x.throughput, (x) => x.throughput.rps),
        latency: best((x) => x.latency, (x) => -x.latency.p99),
        ...(cpus.length > 0 ? { cpuUsPerRequest: Math.min(...cpus) } : {}),
      };
    });
    const by = (n: string): Side | undefined => sides.find((s) => s.name === n);
    const direct = by('direct');
    const rows = sides.map((s) => [
      s.name,
      fmt(s.throughput.rps),
      fmt(s.throughput.p50, 2),
      fmt(s.throughput.p99, 2),
      fmt(s.latency.p50, 3),
      fmt(s.latency.p99, 3),
      s.name === 'direct' ? '' : signed(s.latency.p50 - (direct?.latency.p50 ?? NaN)),
      s.name === 'direct' ? '' : signed(s.latency.p99 - (direct?.latency.p99 ?? NaN)),
      s.cpuUsPerRequest === undefined ? '' : fmt(s.cpuUsPerRequest, 1),
    ]);
    const detail = [
      `HTTP GET ${PATH}; throughput: wrk 1 thread, ${concurrency} connections, ${seconds} s; latency: 1 connection, ${latencySeconds} s; best of ${rounds} interleaved rounds (ms)`,
      table(['side', 'req/s', 'p50@load', 'p99@load', 'p50@1', 'p99@1', 'added p50', 'added p99', 'cpu µs/req'], rows),
    ].join('\n');
    const m = by('meridian');
    const hap = by('haproxy');
    const hpx = by('http-proxy');
    const checks: Check[] = [];
    if (m && hap && hpx && direct) {
      checks.push(ratioCheck(BENCH, '/v1/services proxy req/s vs haproxy', m.throughput.rps, hap.throughput.rps, 0.6, 'req/s'));
      checks.push(ratioCheck(BENCH, '/v1/services proxy req/s vs http-proxy', m.throughput.rps, hpx.throughput.rps, 2, 'req/s'));
      checks.push(maxCheck(BENCH, '/v1/services proxy added p99 (1 connection)', m.latency.p99 - direct.latency.p99, 1, 'ms', 3));
      if (m.cpuUsPerRequest !== undefined && hpx.cpuUsPerRequest !== undefined) {
        checks.push({ bench: BENCH, what: 'proxy CPU per request vs http-proxy', measured: `${(hpx.cpuUsPerRequest / m.cpuUsPerRequest).toFixed(2)}× as efficient (${fmt(m.cpuUsPerRequest, 1)} vs ${fmt(hpx.cpuUsPerRequest, 1)} µs)`, target: 'report', met: null });
      }
      checks.push({ bench: BENCH, what: 'vs the coordinator it replaces (~500 req/s)', measured: `${(m.throughput.rps / 500).toFixed(1)}× (${fmt(m.throughput.rps)} req/s)`, target: 'report', met: null });
    } else checks.push(missing(BENCH, 'services proxy vs haproxy / http-proxy', '≥ 0.6× / ≥ 2×', 'a side failed'));
    emit({ bench: BENCH, checks, detail, notes: ['the worker (node:http) and wrk share the machine with the proxy: at 2 cores the proxy gets about one core'] }, values.json);
  } finally {
    await haproxy?.stop();
    for (const r of roles.reverse()) await r.stop();
  }
}
