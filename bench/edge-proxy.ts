/**
 * Edge proxy overhead on loopback, every side measured in the same run.
 *
 * HTTP: `GET /v1/ping` straight to a stand-in region, and through the proxies in front of it:
 * the bare node:http proxy (the floor for any Node proxy), `http-proxy` (npm), haproxy (Debian;
 * config written to a temp dir, started and stopped here), haproxy doing the edge's job from a
 * config written by hand (same steering decisions, forwarded headers, region header, /ready checks,
 * caps; row `haproxy-steering`, the fair baseline for the next), haproxy with the config `meridian
 * plan` generates (row `haproxy-generated`) and the Meridian edge (steering, health
 * monitor, header rewriting, streaming; rate limit off). Region and each proxy run in their own
 * process; the load generator is wrk, out of process. For each side two wrk runs:
 *   - throughput: `--concurrency` keep-alive connections, `--seconds` → requests/s;
 *   - latency: one connection, one request at a time (no queueing), `--latency-seconds` → p50/p99;
 *     "added" is the side's value minus direct's from the same run.
 * Limits on 2 cores: wrk, the proxy and the region are three busy processes on two cores, so a
 * proxy gets about one core and the region shares with wrk. haproxy runs with one thread, like
 * Node. `http-proxy` gets a keep-alive agent (its default opens a connection per request, which
 * would flatter everyone else).
 *
 * WebSocket: an echo server in the region process at `/ws`, reached directly and through the
 * edge. The client (this process, ws) keeps `--ws-connections` sockets with `--ws-window`
 * messages each in flight → echoes/s; then one socket, one message at a time → round-trip
 * p50/p99 and the edge's added latency.
 *
 *   npx tsx bench/edge-proxy.ts [--seconds 3] [--latency-seconds 2] [--concurrency 32] [--json out.json]
 *     [--sides direct,haproxy,haproxy-generated]   (a subset of the sides; default all; WebSocket only with edge)
 */
import { Agent, createServer } from 'node:http';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';
import { WebSocket, WebSocketServer } from 'ws';
import { startEdge } from '../src/edge/server/mod.js';
import { defaultTopology } from '../src/topology/mod.js';
import { cpuSeconds, exitWithParent, forkRole, listen, sleep } from './lib/proc.js';
import type { Role } from './lib/proc.js';
import { startGeneratedHaproxy, startHandSteeringHaproxy, startHaproxy } from './lib/haproxy.js';
import { emit, maxCheck, missing, ratioCheck } from './lib/report.js';
import type { Check } from './lib/report.js';
import { fmt, signed, summarize, table } from './lib/stats.js';
import { wrk } from './lib/wrk.js';
import type { WrkResult } from './lib/wrk.js';

const BENCH = 'edge proxy';
const SIDES = ['direct', 'bare', 'http-proxy', 'haproxy', 'haproxy-steering', 'haproxy-generated', 'edge'] as const;
const self = fileURLToPath(import.meta.url);

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    'latency-seconds': { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '2' },
    'ws-connections': { type: 'string', default: '16' },
    'ws-window': { type: 'string', default: '8' },
    sides: { type: 'string', default: SIDES.join(',') },
    role: { type: 'string' },
    region: { type: 'string' },
    json: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const latencySeconds = Number(values['latency-seconds']);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const selected = new Set(values.sides.split(',').map((s) => s.trim()));
for (const s of selected) if (!(SIDES as readonly string[]).includes(s)) throw new Error(`--sides: unknown side ${s} (sides: ${SIDES.join(', ')})`);


if (values.role === 'region') {
  // The stand-in region: /ready for the edge's probes, a tiny JSON answer naming its region as a
  // region node does (the proxies in front need not add it), and a /ws echo.
  const body = '{"ok":true}';
  const region = createServer((req, res) => {
    if (req.url === '/ready') return void res.writeHead(200).end();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'x-meridian-region': 'us-east' }).end(body);
  });
  const wss = new WebSocketServer({ server: region, path: '/ws', perMessageDeflate: false, handleProtocols: (p) => [...p][0] ?? false });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  process.send?.(await listen(region));
  exitWithParent();
} else if (values.role === 'edge') {
  const topology = defaultTopology();
  const edge = await startEdge({ topology, regionUrls: Object.fromEntries(topology.regions.map((r) => [r.name, values.region ?? ''])), port: 0, geoip: null, rateLimit: false });
  process.send?.(edge.url);
  exitWithParent(() => edge.close());
} else if (values.role === 'bare') {
  // The floor for any Node proxy: node:http in, node:http out with keep-alive, bodies piped, no
  // steering or header work.
  const target = new URL(values.region ?? '');
  const agent = new Agent({ keepAlive: true });
  const proxy = createServer((req, res) => {
    const up = request({ hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  process.send?.(await listen(proxy));
  exitWithParent();
} else if (values.role === 'http-proxy') {
  const proxy = httpProxy.createProxyServer({ target: values.region ?? '', agent: new Agent({ keepAlive: true }), xfwd: true });
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  const server = createServer((req, res) => proxy.web(req, res));
  process.send?.(await listen(server));
  exitWithParent();
} else {
  await main();
}

interface HttpSide {
  readonly name: string;
  readonly throughput: WrkResult;
  readonly latency: WrkResult;
  /** Requests per CPU-second of the proxy process (of the region, for direct). */
  readonly perCpuSec: number;
  /** Share of one core the proxy used during the throughput run. */
  readonly cpu: number;
}

async function measureHttp(name: string, base: string, pid: number): Promise<HttpSide> {
  const url = `${base}/v1/ping`;
  // Warm up (connections, JIT) before either measurement.
  await wrk(url, { connections: concurrency, seconds: 1 });
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  const throughput = await wrk(url, { connections: concurrency, seconds });
  const cpu = cpuSeconds(pid) - c0;
  const wall = (performance.now() - t0) / 1000;
  const latency = await wrk(url, { connections: 1, seconds: latencySeconds });
  if (throughput.errors > 0 || latency.errors > 0) throw new Error(`${name}: ${throughput.errors + latency.errors} errors or non-2xx answers`);
  return { name, throughput, latency, perCpuSec: throughput.requests / cpu, cpu: cpu / wall };
}

interface WsSide {
  readonly name: string;
  readonly echoesPerSec: number;
  readonly p50: number;
  readonly p99: number;
}

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['bench'], { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function measureWs(name: string, base: string): Promise<WsSide> {
  const url = `${base.replace('http:', 'ws:')}/ws`;
  const payload = Buffer.alloc(100, 'x').toString();
  const n = Number(values['ws-connections']);
  const window = Number(values['ws-window']);
  const socks = await Promise.all(Array.from({ length: n }, () => openWs(url)));
  // Throughput: each socket keeps `window` messages in flight; sends the next on each echo.
  let echoes = 0;
  let running = true;
  for (const ws of socks) {
    ws.on('message', () => {
      echoes++;
      if (running) ws.send(payload);
    });
  }
  const warm = Date.now() + 500;
  for (const ws of socks) for (let i = 0; i < window; i++) ws.send(payload);
  await sleep(warm - Date.now());
  const e0 = echoes;
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const got = echoes - e0;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  running = false;
  await sleep(200);
  for (const ws of socks) ws.terminate();
  // Latency: one socket, one message at a time.
  const one = await openWs(url);
  const samples: number[] = [];
  const end = Date.now() + latencySeconds * 1000;
  while (Date.now() < end && samples.length < 200_000) {
    const t = process.hrtime.bigint();
    await new Promise<void>((r) => {
      one.once('message', () => r());
      one.send(payload);
    });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  one.terminate();
  const s = summarize(samples);
  return { name, echoesPerSec: got / elapsed, p50: s.p50, p99: s.p99 };
}

async function main(): Promise<void> {
  const roles: Role<string>[] = [];
  let haproxy: { url: string; pid: number; stop(): Promise<void> } | undefined;
  let generated: { url: string; pid: number; stop(): Promise<void> } | undefined;
  let steering: { url: string; pid: number; stop(): Promise<void> } | undefined;
  const notes: string[] = [];
  try {
    const region = await forkRole<string>(self, 'region');
    roles.push(region);
    const proxies: [string, string, number][] = [];
    for (const role of ['bare', 'http-proxy', 'edge'].filter((s) => selected.has(s))) {
      // MRD_BENCH_PROF=<dir>: a --cpu-prof of the edge process, written there when it exits.
      const prof = role === 'edge' && process.env['MRD_BENCH_PROF'] ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir=' + process.env['MRD_BENCH_PROF']] } : {};
      const r = await forkRole<string>(self, role, ['--region', region.ready], prof);
      roles.push(r);
      proxies.push([role, r.ready, r.child.pid ?? 0]);
    }
    if (selected.has('haproxy')) haproxy = await startHaproxy(region.ready, 'region');
    if (selected.has('haproxy-steering')) steering = await startHandSteeringHaproxy(region.ready);
    if (selected.has('haproxy-generated')) generated = await startGeneratedHaproxy(region.ready);
    // Let the edge's first health probe pass before measuring.
    await sleep(300);
    const started: [string, string, number][] = [['direct', region.ready, region.child.pid ?? 0], ...proxies];
    if (haproxy) started.push(['haproxy', haproxy.url, haproxy.pid]);
    if (steering) started.push(['haproxy-steering', steering.url, steering.pid]);
    if (generated) started.push(['haproxy-generated', generated.url, generated.pid]);
    const order = SIDES.flatMap((name) => started.filter(([n]) => n === name && selected.has(n)));
    // Rounds interleave the sides, so a burst of load from elsewhere on the machine hits one
    // round of every side rather than all of one side; each side keeps its least disturbed run
    // (highest throughput; lowest p99 at one connection).
    const runs: HttpSide[] = [];
    for (let r = 0; r < rounds; r++) for (const [name, url, pid] of order) runs.push(await measureHttp(name, url, pid));
    const sides: HttpSide[] = order.map(([name]) => {
      const mine = runs.filter((x) => x.name === name);
      const best = <T>(pick: (x: HttpSide) => T, score: (x: HttpSide) => number): T => pick(mine.reduce((a, b) => (score(b) > score(a) ? b : a)));
      const top = mine.reduce((a, b) => (b.throughput.rps > a.throughput.rps ? b : a));
      return { ...top, latency: best((x) => x.latency, (x) => -x.latency.p99) };
    });
    const edgeUrl = proxies.find(([n]) => n === 'edge')?.[1];
    const wsSides = edgeUrl === undefined ? [] : [await measureWs('direct', region.ready), await measureWs('edge', edgeUrl)];
    const by = (n: string): HttpSide | undefined => sides.find((s) => s.name === n);
    const direct = by('direct');
    const rows = sides.map((s) => [
      s.name,
      fmt(s.throughput.rps),
      fmt(s.perCpuSec),
      `${(s.cpu * 100).toFixed(0)} %`,
      fmt(s.throughput.p50, 2),
      fmt(s.throughput.p99, 2),
      fmt(s.latency.p50, 3),
      fmt(s.latency.p99, 3),
      s.name === 'direct' ? '' : signed(s.latency.p50 - (direct?.latency.p50 ?? NaN)),
      s.name === 'direct' ? '' : signed(s.latency.p99 - (direct?.latency.p99 ?? NaN)),
    ]);
    const wsDirect = wsSides[0];
    const wsEdge = wsSides[1];
    const detail = [
      `HTTP GET /v1/ping; throughput: wrk 1 thread, ${concurrency} connections, ${seconds} s; latency: 1 connection, ${latencySeconds} s; best of ${rounds} interleaved rounds (ms)`,
      table(['side', 'req/s', 'req/CPU-s', 'CPU', 'p50@load', 'p99@load', 'p50@1', 'p99@1', 'added p50', 'added p99'], rows),
      ...(wsSides.length === 0
        ? []
        : [
            '',
            `WebSocket echo, 100 B text; throughput: ${values['ws-connections']} sockets × ${values['ws-window']} in flight, ${seconds} s; latency: 1 socket, 1 in flight, ${latencySeconds} s (ms)`,
            table(
              ['side', 'echoes/s', 'rtt p50', 'rtt p99', 'added p50', 'added p99'],
              wsSides.map((s) => [s.name, fmt(s.echoesPerSec), fmt(s.p50, 3), fmt(s.p99, 3), s === wsDirect ? '' : signed(s.p50 - (wsDirect?.p50 ?? NaN)), s === wsDirect ? '' : signed(s.p99 - (wsDirect?.p99 ?? NaN))]),
            ),
          ]),
    ].join('\n');
    const edge = by('edge');
    const checks: Check[] = [];
    const hap = by('haproxy');
    const hp = by('http-proxy');
    if (edge && hap && hp && direct) {
      checks.push(ratioCheck(BENCH, 'edge req/s vs haproxy', edge.throughput.rps, hap.throughput.rps, 0.6, 'req/s'));
      checks.push(ratioCheck(BENCH, 'edge req/s vs http-proxy', edge.throughput.rps, hp.throughput.rps, 2, 'req/s'));
      checks.push(ratioCheck(BENCH, 'edge req per CPU-s vs haproxy', edge.perCpuSec, hap.perCpuSec, 0.6, 'req/CPU-s'));
      checks.push(ratioCheck(BENCH, 'edge req per CPU-s vs http-proxy', edge.perCpuSec, hp.perCpuSec, 2, 'req/CPU-s'));
      checks.push(maxCheck(BENCH, 'edge added p99 (1 connection)', edge.latency.p99 - direct.latency.p99, 1, 'ms', 3));
    } else if (selected.has('edge')) checks.push(missing(BENCH, 'edge vs haproxy / http-proxy', '≥ 0.6× / ≥ 2×', 'a side failed'));
    const gen = by('haproxy-generated');
    if (gen && hap) checks.push(ratioCheck(BENCH, 'generated haproxy config req/s vs hand-written haproxy', gen.throughput.rps, hap.throughput.rps, 0.95, 'req/s'));
    else if (selected.has('haproxy-generated')) checks.push(missing(BENCH, 'generated haproxy config req/s vs hand-written haproxy', '≥ 0.95×', 'a side failed'));
    // The same goal against a hand-written config doing the same job (lib/haproxy.ts): the bare
    // baseline adds no headers and steers nothing, so the first ratio counts the job as overhead.
    const hand = by('haproxy-steering');
    if (gen && hand) checks.push(ratioCheck(BENCH, 'generated haproxy config req/s vs hand-written haproxy doing the same steering and headers', gen.throughput.rps, hand.throughput.rps, 0.95, 'req/s'));
    else if (selected.has('haproxy-generated') && selected.has('haproxy-steering')) checks.push(missing(BENCH, 'generated haproxy config req/s vs hand-written haproxy doing the same steering and headers', '≥ 0.95×', 'a side failed'));
    if (wsEdge && wsDirect) {
      checks.push({ bench: BENCH, what: 'WebSocket echoes/s via edge vs direct', measured: `${(wsEdge.echoesPerSec / wsDirect.echoesPerSec).toFixed(2)}× (${fmt(wsEdge.echoesPerSec)} vs ${fmt(wsDirect.echoesPerSec)})`, target: 'report', met: null });
      checks.push(maxCheck(BENCH, 'WebSocket added rtt p99 via edge', wsEdge.p99 - wsDirect.p99, 1, 'ms', 3));
    }
    notes.push('the region (node:http) and wrk share the machine with the proxy: at 2 cores the proxy gets about one core');
    emit({ bench: BENCH, checks, detail, notes }, values.json);
  } finally {
    await haproxy?.stop();
    await generated?.stop();
    await steering?.stop();
    for (const r of roles.reverse()) await r.stop();
  }
}
