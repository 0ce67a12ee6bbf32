/**
 * Service proxy overhead on loopback, every side measured in the same run.
 *
 * `GET /v1/services/bench/ping` straight to a stand-in worker, and through: `http-proxy` (npm,
 * keep-alive agent), haproxy (Debian, one thread, keep-alive and connection reuse), a real
 * region node, and the services module alone.
 * - `node`: a region node as `meridian region` runs it (src/runtime/region.ts `startRegion`, the
 *   services module from `servicesModules`, the node's metrics and audit trail, SQLite DLQ and
 *   log in a temp dir, on the embedded bus), with an API key holding the `services` scope (keys
 *   file made by `createKey`, read by a KeyRing) sent on every request, and client JWTs (HS256)
 *   enabled. The worker registers through the real `POST /v1/workers` with the worker token and
 *   heartbeats through `PUT /v1/workers/{id}/heartbeat`. The node's HTTP rate limiter is ON
 *   (every request takes a token from the bucket of its credential and address) with its rate
 *   raised to 1,000,000/s so that it never refuses: its cost is measured, not its limit.
 * - `module`: the services module mounted in a bare node:http server, called as the operator
 *   (no credential, no limiter, no node front door): the difference to `node` is what the front
 *   door costs.
 * Every Meridian side runs the policies (registry view, P2C, breaker, timeout, bulkhead, retry
 * budget, header rewriting, streaming). Worker and each proxy run in their own process; wrk is the
 * load generator. For each side: throughput (`--concurrency` keep-alive connections, `--seconds`)
 * and latency at one connection (`--latency-seconds`); "added" is the side minus direct from the
 * same run. For the Node proxies, the CPU time their process spent per request during the
 * throughput run: the figure least disturbed by whatever else runs on the machine.
 * Rounds interleave the sides; each keeps its least disturbed run. On a shared 2-core machine
 * the proxy gets about one core (wrk and the worker share the other).
 * `MERIDIAN_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR"` profiles every role (bench/lib/proc.ts).
 *
 *   npx tsx bench/services-proxy.ts [--seconds 3] [--latency-seconds 2] [--concurrency 32] [--rounds 2]
 *                                   [--sides direct,http-proxy,haproxy,node,module] [--json out.json]
 */
import type { HttpModule, RequestInfo } from '../src/module/http-module.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { PerformanceObserver, createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';
import { EmbeddedNetwork } from '../src/bus/embedded/mod.js';
import { KeyRing, createKey } from '../src/keys/mod.js';
import { NodeMetrics } from '../src/observability/metrics.js';
import { silentLogger } from '../src/observability/logger.js';
import { startRegion } from '../src/runtime/region.js';
import { newWorkerToken, servicesModules } from '../src/runtime/services.js';
import { createServicesModule } from '../src/services/mod.js';
import { defaultTopology, linkLatencyMs, sloTargetsFor } from '../src/topology/mod.js';
import { benchTopology } from './lib/meridian.js';
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
const SIDES = ['direct', 'http-proxy', 'haproxy', 'node', 'module'] as const;
const PATH = '/v1/services/bench/ping';
const self = fileURLToPath(import.meta.url);

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    'latency-seconds': { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    sides: { type: 'string', default: 'direct,http-proxy,haproxy,node,module' },
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
// Where a slow answer's time went, for the one-connection latency run (the role is told when it
// starts): the event loop's delay (a busy or descheduled process answers late whatever it does),
// and the time from the request reaching the modules to its answer's last byte handed to the
// kernel (the proxy and the worker's round trip). Measured only in the latency run: the
// listener per request would cost the throughput run's CPU figure.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
const inner = createHistogram();
let timing = false;
// GC pauses in the latency run: a request that arrives during one waits for it.
let gcPauses: number[] = [];
const gcWatch = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push(e.duration);
});
function timed(res: ServerResponse): void {
  if (!timing) return;
  const t0 = performance.now();
  res.once('finish', () => inner.record(Math.max(1, Math.round((performance.now() - t0) * 1000))));
}
function answerStats(): void {
  process.on('message', (m: unknown) => {
    if (m === 'time') {
      timing = true;
      inner.reset();
      loopDelay.reset();
      loopDelay.enable();
      gcPauses = [];
      gcWatch.observe({ entryTypes: ['gc'] });
    } else if (m === 'untime') {
      timing = false;
      loopDelay.disable();
      gcWatch.disconnect();
    }
    const c = process.cpuUsage();
    const us = (h: { percentile(p: number): number }, p: number, scale: number): number => h.percentile(p) / scale;
    process.send?.({ cpuUs: c.user + c.system, served, inner: { p50: us(inner, 50, 1000), p99: us(inner, 99, 1000) }, loop: { p50: us(loopDelay, 50, 1e6), p99: us(loopDelay, 99, 1e6), max: loopDelay.max / 1e6 }, gc: { count: gcPauses.length, ms: gcPauses.reduce((a, b) => a + b, 0), max: Math.max(0, ...gcPauses) } });
  });
}


if (values.role === 'worker') {
  const body = '{"ok":true}';
  const worker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });
  process.send?.(await listen(worker));
  exitWithParent();
} else if (values.role === 'node') {
  // A region node as `meridian region` runs one, with the services module it mounts.
  const dir = mkdtempSync(join(tmpdir(), 'meridian-svc-bench-'));
  const keysFile = join(dir, 'keys.json');
  const { key } = await createKey(keysFile, { scopes: ['services'], note: 'services-proxy bench' });
  const keys = await KeyRing.open(keysFile);
  const topology = benchTopology(['us-east']);
  const net = new EmbeddedNetwork(
    topology.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })),
    { latencyMs: (a, b) => linkLatencyMs(topology, a, b) },
  );
  const region = 'us-east';
  const metrics = new NodeMetrics({ region, node: `${region}-bench`, regions: topology.regions.map((r) => r.name), slo: sloTargetsFor(topology, region), log: silentLogger() });
  const workerToken = newWorkerToken();
  const services = servicesModules(workerToken, { egress: { allowLoopback: true } });
  // Counts the requests that reach the modules (the proxied ones), for CPU per request; it
  // takes none of them.
  const counter: HttpModule = { name: 'bench-counter', handle: (_req, res) => (served++, timed(res), false) };
  const runtime = await startRegion({
    topology,
    region,
    bus: net.connect(region),
    dataDir: dir,
    modules: async (parts) => [counter, ...(await services(parts))],
    node: {
      node: `${region}-bench`,
      metrics,
      keys,
      auth: { hs256Secret: 'services-proxy-bench-secret-0000' },
      // On, so its cost per request is measured; raised so that it never refuses the bench.
      httpRateLimit: { ratePerSec: 1_000_000, burst: 1_000_000 },
    },
  });
  answerStats();
  process.send?.({ url: runtime.url, key, workerToken });
  exitWithParent(async () => {
    await runtime.close();
    keys.close();
    await net.close();
    rmSync(dir, { recursive: true, force: true });
  });
} else if (values.role === 'module') {
  // The services module alone on the embedded bus, the worker registered in-process.
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
    timed(res);
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
        timed(res);
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
  /** Meridian sides, latency run: inside the process (Stats.inner) and its event-loop delay. */
  readonly inner?: Stats['inner'];
  readonly loop?: Stats['loop'];
  readonly gc?: Stats['gc'];
}

interface Stats {
  readonly cpuUs: number;
  readonly served: number;
  /** In the latency run: request at the modules → answer handed to the kernel, ms. */
  readonly inner?: { readonly p50: number; readonly p99: number };
  /** In the latency run: event-loop delay, ms. */
  readonly loop?: { readonly p50: number; readonly p99: number; readonly max: number };
  /** In the latency run: GC pauses, how many, their total and longest (ms). */
  readonly gc?: { readonly count: number; readonly ms: number; readonly max: number };
}

async function measure(name: string, base: string, role?: Role<unknown>, headers?: Readonly<Record<string, string>>): Promise<Side> {
  const url = `${base}${PATH}`;
  const probe = await fetch(url, { headers: { ...headers } });
  const text = await probe.text();
  if (!probe.ok) throw new Error(`${name}: ${probe.status} ${text}`);
  const h = headers === undefined ? {} : { headers };
  await wrk(url, { connections: concurrency, seconds: 1, ...h });
  const before = role ? await role.ask<Stats>('stats') : undefined;
  const throughput = await wrk(url, { connections: concurrency, seconds, ...h });
  const after = role ? await role.ask<Stats>('stats') : undefined;
  if (role) await role.ask('time');
  const latency = await wrk(url, { connections: 1, seconds: latencySeconds, ...h });
  const timedStats = role ? await role.ask<Stats>('untime') : undefined;
  if (throughput.errors > 0 || latency.errors > 0) {
    const after = await fetch(url, { headers: { ...headers } });
    throw new Error(`${name}: ${throughput.errors + latency.errors} errors or non-2xx answers; now: ${after.status} ${await after.text()}`);
  }
  const cpu = before && after && after.served > before.served ? (after.cpuUs - before.cpuUs) / (after.served - before.served) : undefined;
  return { name, throughput, latency, ...(cpu !== undefined ? { cpuUsPerRequest: cpu } : {}), ...(timedStats?.inner ? { inner: timedStats.inner, loop: timedStats.loop, gc: timedStats.gc } : {}) };
}

interface NodeReady {
  readonly url: string;
  /** The API key (services scope) every request carries. */
  readonly key: string;
  readonly workerToken: string;
}

/** Register the worker through the node's real route, with the worker token; heartbeat it. */
async function registerWorker(node: NodeReady, workerUrl: string): Promise<() => void> {
  const auth = { authorization: `Bearer ${node.workerToken}`, 'content-type': 'application/json' };
  const r = await fetch(`${node.url}/v1/workers`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'bench-1', services: [{ name: 'bench', url: workerUrl }] }) });
  if (r.status !== 201) throw new Error(`worker registration: ${r.status} ${await r.text()}`);
  const lease = (await r.json()) as { heartbeatIntervalMs: number };
  const beat = setInterval(() => {
    void fetch(`${node.url}/v1/workers/bench-1/heartbeat`, { method: 'PUT', headers: auth, body: '{"inFlight":0}' })
      .then((x) => x.arrayBuffer())
      .catch(() => undefined);
  }, Math.min(2000, lease.heartbeatIntervalMs));
  return () => clearInterval(beat);
}

async function main(): Promise<void> {
  const wanted = values.sides.split(',').map((x) => x.trim());
  for (const w of wanted) if (!(SIDES as readonly string[]).includes(w)) throw new Error(`--sides: unknown side ${w} (known: ${SIDES.join(', ')})`);
  const roles: Role<unknown>[] = [];
  let haproxy: { url: string; stop(): Promise<void> } | undefined;
  let stopBeat: (() => void) | undefined;
  try {
    const worker = await forkRole<string>(self, 'worker');
    roles.push(worker);
    const order: [string, string, Role<unknown> | undefined, Record<string, string> | undefined][] = [];
    for (const side of wanted) {
      if (side === 'direct') order.push(['direct', worker.ready, undefined, undefined]);
      else if (side === 'http-proxy') {
        const hp = await forkRole<string>(self, 'http-proxy', ['--worker', worker.ready]);
        roles.push(hp);
        order.push(['http-proxy', hp.ready, hp, undefined]);
      } else if (side === 'haproxy') {
        haproxy = await startHaproxy(worker.ready, 'worker');
        order.push(['haproxy', haproxy.url, undefined, undefined]);
      } else if (side === 'node') {
        const node = await forkRole<NodeReady>(self, 'node', [], { timeoutMs: 60_000 });
        roles.push(node);
        stopBeat = await registerWorker(node.ready, worker.ready);
        order.push(['node', node.ready.url, node, { authorization: `Bearer ${node.ready.key}` }]);
      } else {
        const mod = await forkRole<string>(self, 'module', ['--worker', worker.ready]);
        roles.push(mod);
        order.push(['module', mod.ready, mod, undefined]);
      }
    }
    await sleep(200);
    const runs: Side[] = [];
    for (let r = 0; r < rounds; r++) for (const [name, url, role, headers] of order) runs.push(await measure(name, url, role, headers));
    const sides: Side[] = order.map(([name]) => {
      const mine = runs.filter((x) => x.name === name);
      const best = <T>(pick: (x: Side) => T, score: (x: Side) => number): T => pick(mine.reduce((a, b) => (score(b) > score(a) ? b : a)));
      const cpus = mine.map((x) => x.cpuUsPerRequest).filter((x): x is number => x !== undefined);
      return {
        name,
        throughput: best((x) => x.throughput, (x) => x.throughput.rps),
        latency: best((x) => x.latency, (x) => -x.latency.p99),
        ...(cpus.length > 0 ? { cpuUsPerRequest: Math.min(...cpus) } : {}),
        ...best((x) => (x.inner && x.loop ? { inner: x.inner, loop: x.loop, gc: x.gc } : {}), (x) => -x.latency.p99),
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
      s.name === 'direct' ? '' : signed(s.throughput.p99 - (direct?.throughput.p99 ?? NaN)),
      s.cpuUsPerRequest === undefined ? '' : fmt(s.cpuUsPerRequest, 1),
      s.cpuUsPerRequest === undefined ? '' : fmt(1e6 / s.cpuUsPerRequest),
    ]);
    const inside = sides.filter((s) => s.inner && s.loop).map((s) => [s.name, fmt(s.latency.p99, 3), fmt(s.inner!.p50, 3), fmt(s.inner!.p99, 3), fmt(s.loop!.p50, 3), fmt(s.loop!.p99, 3), fmt(s.loop!.max, 1), s.gc === undefined ? '' : `${s.gc.count} / ${fmt(s.gc.ms, 1)} / ${fmt(s.gc.max, 2)}`]);
    const detail = [
      `HTTP GET ${PATH}; throughput: wrk 1 thread, ${concurrency} connections, ${seconds} s; latency: 1 connection, ${latencySeconds} s; best of ${rounds} interleaved rounds (ms)`,
      table(['side', 'req/s', 'p50@load', 'p99@load', 'p50@1', 'p99@1', 'added p50', 'added p99', 'added p99@load', 'cpu µs/req', 'req/CPU-s'], rows),
      '',
      'Where the one-connection tail goes (that run, ms): inside = request at the proxy (node: at its modules) -> answer handed to the kernel, the worker round trip included; loop = interval of a 1 ms timer in the proxy process (1.0 = no delay); gc = pauses in that run: count / total ms / longest ms',
      table(['side', 'p99@1', 'inside p50', 'inside p99', 'loop p50', 'loop p99', 'loop max', 'gc'], inside),
    ].join('\n');
    const m = by('node');
    const alone = by('module');
    const hap = by('haproxy');
    const hpx = by('http-proxy');
    const checks: Check[] = [];
    if (m && hpx && direct) {
      // Issue 15 item 7: requests per CPU-second of the proxy process, policies on, through a node.
      if (m.cpuUsPerRequest !== undefined && hpx.cpuUsPerRequest !== undefined) {
        checks.push(ratioCheck(BENCH, 'node + services proxy req per CPU-s vs http-proxy', 1e6 / m.cpuUsPerRequest, 1e6 / hpx.cpuUsPerRequest, 1, 'req/CPU-s'));
      }
      checks.push(maxCheck(BENCH, 'node + services proxy added p99 (1 connection)', m.latency.p99 - direct.latency.p99, 1, 'ms', 3));
      if (hap) checks.push(ratioCheck(BENCH, 'node + services proxy req/s vs haproxy', m.throughput.rps, hap.throughput.rps, 0.6, 'req/s'));
      checks.push(ratioCheck(BENCH, 'node + services proxy req/s vs http-proxy', m.throughput.rps, hpx.throughput.rps, 2, 'req/s'));
      checks.push({ bench: BENCH, what: 'vs the coordinator it replaces (~500 req/s)', measured: `${(m.throughput.rps / 500).toFixed(1)}× (${fmt(m.throughput.rps)} req/s)`, target: 'report', met: null });
    } else checks.push(missing(BENCH, 'node + services proxy vs http-proxy', '≥ 1× per CPU-s, added p99 ≤ 1 ms', 'a side was not run or failed'));
    if (alone && hpx?.cpuUsPerRequest !== undefined && alone.cpuUsPerRequest !== undefined) {
      checks.push({ bench: BENCH, what: 'module alone (no node front door) req per CPU-s vs http-proxy', measured: `${(hpx.cpuUsPerRequest / alone.cpuUsPerRequest).toFixed(2)}× (${fmt(alone.cpuUsPerRequest, 1)} vs ${fmt(hpx.cpuUsPerRequest, 1)} µs/req)`, target: 'report', met: null });
    }
    emit({ bench: BENCH, checks, detail, notes: ['the worker (node:http) and wrk share the machine with the proxy: at 2 cores the proxy gets about one core', 'node: a region node with an API key on every request and its HTTP rate limiter on (rate raised to 1,000,000/s: never refuses)'] }, values.json);
  } finally {
    stopBeat?.();
    await haproxy?.stop();
    for (const r of roles.reverse()) await r.stop();
  }
}
