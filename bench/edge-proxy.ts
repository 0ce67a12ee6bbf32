/**
 * Edge HTTP proxy overhead on loopback: requests per second and latency percentiles for GET
 * /v1/ping straight to a stand-in region, through a bare node:http proxy (the floor for any Node
 * proxy), and through the edge (steering, rate limit off, header rewriting, streaming). Region,
 * bare proxy and edge each run in their own process (forked, so the client does not share their
 * event loop); every run uses the same client (node:http, keep-alive, N in flight), one after the
 * other, so only the proxy differs. On a shared 2-core machine, repeat it: runs vary a lot.
 *
 *   npx tsx bench/edge-proxy.ts [--seconds 5] [--concurrency 32]
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once as onceEvent } from 'node:events';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { startEdge } from '../src/edge/server/mod.js';
import { defaultTopology } from '../src/topology/mod.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '32' }, role: { type: 'string' }, region: { type: 'string' } },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

if (values.role === 'region') {
  // The stand-in region: /ready and a tiny JSON answer.
  const region = createServer((req, res) => {
    if (req.url === '/ready') return void res.writeHead(200).end();
    const body = '{"ok":true}';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => region.listen(0, '127.0.0.1', r));
  process.send?.(`http://127.0.0.1:${(region.address() as AddressInfo).port}`);
  process.once('disconnect', () => process.exit(0));
} else if (values.role === 'edge') {
  const topology = defaultTopology();
  const edge = await startEdge({ topology, regionUrls: Object.fromEntries(topology.regions.map((r) => [r.name, values.region ?? ''])), port: 0, geoip: null, rateLimit: false });
  process.send?.(edge.url);
  process.once('disconnect', () => process.exit(0));
} else if (values.role === 'baseline') {
  // The floor for any Node proxy: node:http in, node:http out with keep-alive, bodies piped, no
  // steering or header work — what node-http-proxy-style proxies do per request.
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
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  process.send?.(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
  process.once('disconnect', () => process.exit(0));
} else {
  await client();
}

async function spawn(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(process.argv[1] ?? '', args, { execArgv: ['--import', 'tsx'] });
  const [url] = (await onceEvent(child, 'message')) as [string];
  return { child, url };
}

async function client(): Promise<void> {
  const region = await spawn(['--role', 'region']);
  const edge = await spawn(['--role', 'edge', '--region', region.url]);
  const baseline = await spawn(['--role', 'baseline', '--region', region.url]);
  console.log(`GET /v1/ping, ${concurrency} in flight, ${seconds} s each, loopback`);
  await run('direct', region.url);
  await run('bare proxy', baseline.url);
  await run('via edge', edge.url);
  edge.child.disconnect();
  baseline.child.disconnect();
  region.child.disconnect();
}

function once(agent: Agent, base: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(`${base}/v1/ping`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
    });
    req.on('error', reject);
    req.end();
  });
}

async function run(label: string, base: string): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) latencies.push(await once(agent, base));
  };
  // Warm up connections first so both runs measure steady state.
  await Promise.all(Array.from({ length: concurrency }, () => once(agent, base)));
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN).toFixed(2);
  console.log(`${label.padEnd(12)} ${(latencies.length / elapsed).toFixed(0).padStart(7)} req/s   p50 ${pct(0.5)} ms   p99 ${pct(0.99)} ms`);
  agent.destroy();
}
