/**
 * Cross-region delivery over a `--link-ms` (50) one-way link: end-to-end latency minus the link
 * delay, p50/p99, at `--rate` messages per second for `--seconds`.
 *   - bus floor, embedded: two regions of an EmbeddedNetwork joined by the link; publish in one,
 *     a subscription in the other (same process, same clock);
 *   - bus floor, NATS: a two-region super-cluster (one nats-server per region, gateways through
 *     the harness's latency proxy), a nats.js bus per region; skipped without nats-server;
 *   - Meridian: two region nodes on the embedded bus in a server process; a WebSocket client on
 *     each (in another process, one clock): the sender's `send` to a room on region a, the room
 *     member on region b receives the `message`. Once with the durable log (SQLite file,
 *     synchronous=FULL: an fsync per append, on the event loop) and once with the log in memory,
 *     to show what the fsync costs;
 *   - Meridian over NATS: the two regions as a super-cluster (JetStream on, the link on the
 *     gateways), each region node in its own process on a nats.js bus; skipped without nats-server.
 * What the link itself adds beyond its nominal delay (timer granularity for the embedded link,
 * proxy forwarding for NATS) is part of the bus floor, measured on its own row.
 *
 *   npx tsx bench/cross-region.ts [--link-ms 50] [--rate 200] [--seconds 3] [--no-nats] [--json out.json]
 *
 * MERIDIAN_BENCH_METRICS=off runs the Meridian sides without messaging metrics and tracing SDK
 * (default on): run once each to see what observability costs (lib/meridian.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EmbeddedNetwork } from '../src/bus/embedded/mod.js';
import { connectNatsBus } from '../src/bus/nats/mod.js';
import { subjects } from '../src/bus/subjects.js';
import { openSqliteLog } from '../src/log/mod.js';
import type { Bus } from '../src/bus/types.js';
import { findNatsServer, startSuperCluster } from '../src/testing/mod.js';
import { WebSocket } from 'ws';
import { benchMetricsNote, meridianAvailable, startMeridianRegions, startNodeOnBus } from './lib/meridian.js';
import { exitWithParent, forkRole, sleep } from './lib/proc.js';
import type { Role } from './lib/proc.js';
import { emit, maxCheck, missing } from './lib/report.js';
import type { Check } from './lib/report.js';
import { fmt, signed, summarize, table } from './lib/stats.js';
import type { Summary } from './lib/stats.js';

const BENCH = 'cross-region delivery';
const self = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    'link-ms': { type: 'string', default: '50' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '3' },
    'no-nats': { type: 'boolean', default: false },
    role: { type: 'string' },
    log: { type: 'string', default: 'file' },
    region: { type: 'string' },
    nats: { type: 'string' },
    json: { type: 'string' },
  },
});
const linkMs = Number(values['link-ms']);
const rate = Number(values.rate);
const seconds = Number(values.seconds);

interface LoopDelay {
  readonly p99: number;
  readonly max: number;
}

/** Event-loop delay of the Meridian server processes during each side's measurement. */
const loopDelays = new Map<string, LoopDelay>();

/** Publish a timestamp at `rate`/s on a's bus, collect (arrival − sent − link) on b's. */
async function overBus(a: Bus, b: Bus): Promise<Summary> {
  const subject = subjects.room('bench-xr');
  const over: number[] = [];
  let warm = false;
  const sub = b.subscribe(subject, (m) => {
    const sent = new DataView(m.data.buffer, m.data.byteOffset, 8).getFloat64(0);
    if (sent < 0) warm = true;
    else over.push(performance.now() - sent - linkMs);
  });
  try {
    // Interest has to cross the gateway first (NATS): ping until a warm-up message arrives.
    const end = Date.now() + 15_000;
    while (!warm && Date.now() < end) {
      a.publish(subject, f64(-1));
      await sleep(100);
    }
    if (!warm) throw new Error('no message crossed the link within 15 s');
    await sleep(linkMs * 3);
    over.length = 0;
    const n = Math.round(rate * seconds);
    const interval = 1000 / rate;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const due = t0 + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      a.publish(subject, f64(performance.now()));
    }
    await sleep(linkMs * 4);
    if (over.length < n) throw new Error(`${n - over.length} of ${n} messages did not arrive`);
    return summarize(over);
  } finally {
    sub.unsubscribe();
  }
}

function f64(v: number): Uint8Array {
  const b = new Uint8Array(100);
  new DataView(b.buffer).setFloat64(0, v);
  return b;
}

async function embedded(): Promise<Summary> {
  const net = new EmbeddedNetwork([{ name: 'a', lat: 0, lon: 0 }, { name: 'b', lat: 0, lon: 10 }], { latencyMs: () => linkMs });
  const a = net.connect('a');
  const b = net.connect('b');
  try {
    return await overBus(a, b);
  } finally {
    await a.close();
    await b.close();
    await net.close();
  }
}

async function nats(): Promise<Summary> {
  const sc = await startSuperCluster({ regions: ['a', 'b'], latencyMs: linkMs, jetstream: false });
  const buses: Bus[] = [];
  try {
    for (const r of ['a', 'b']) buses.push(await connectNatsBus({ region: r, servers: [sc.url(r)] }));
    const [a, b] = buses;
    if (!a || !b) throw new Error('unreachable');
    return await overBus(a, b);
  } finally {
    for (const b of buses) await b.close();
    await sc.close();
  }
}

/** What one durable append costs on this disk right now: the floor under every Meridian send. */
async function appendLatency(): Promise<Summary> {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-log-'));
  const log = openSqliteLog({ path: join(dir, 'append.db') });
  const t: number[] = [];
  try {
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await log.append('room:bench', { id: `m${i}`, from: 'u', body: { t: i, pad: 'x'.repeat(80) } });
      t.push(performance.now() - t0);
    }
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return summarize(t);
}

interface Row {
  readonly side: string;
  readonly s: Summary | undefined;
  readonly why?: string;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  rows.push({ side: 'bus floor, embedded', s: await embedded() });
  if (values['no-nats']) rows.push({ side: 'bus floor, NATS', s: undefined, why: '--no-nats' });
  else if (findNatsServer() === null) rows.push({ side: 'bus floor, NATS', s: undefined, why: 'nats-server not found (apt-get install nats-server)' });
  else rows.push({ side: 'bus floor, NATS', s: await nats() });
  const append = await appendLatency();
  const meridian = await meridianAvailable();
  if (meridian.ok) {
    rows.push({ side: 'Meridian, embedded', s: await overMeridian('file') });
    rows.push({ side: 'Meridian, embedded, log in memory', s: await overMeridian('memory') });
    if (values['no-nats'] || findNatsServer() === null) rows.push({ side: 'Meridian, NATS', s: undefined, why: values['no-nats'] ? '--no-nats' : 'nats-server not found' });
    else {
      try {
        rows.push({ side: 'Meridian, NATS', s: await overMeridianNats() });
      } catch (err) {
        rows.push({ side: 'Meridian, NATS', s: undefined, why: `failed: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  } else rows.push({ side: 'Meridian, embedded', s: undefined, why: meridian.why });
  const detail = [
    `one-way link ${linkMs} ms, ${rate} msg/s for ${seconds} s; latency above the link delay (ms)`,
    table(
      ['side', 'n', 'p50', 'p90', 'p99', 'max', 'server loop delay p99/max'],
      rows.map((r) => {
        const d = loopDelays.get(r.side);
        const loop = d ? `${fmt(d.p99, 1)} / ${fmt(d.max, 1)}` : '';
        return r.s ? [r.side, fmt(r.s.n), signed(r.s.p50), signed(r.s.p90), signed(r.s.p99), signed(r.s.max), loop] : [r.side, '—', '—', '—', '—', r.why ?? '', ''];
      }),
    ),
    '',
    `one durable append to the SQLite log (WAL, synchronous=FULL, fsync per commit), ${append.n} in a row on a temp file (ms)`,
    table(['', 'n', 'p50', 'p90', 'p99', 'max'], [['append', fmt(append.n), fmt(append.p50, 3), fmt(append.p90, 3), fmt(append.p99, 3), fmt(append.max, 3)]]),
  ].join('\n');
  const checks: Check[] = [];
  const m = rows.find((r) => r.side === 'Meridian, embedded');
  if (m?.s) checks.push(maxCheck(BENCH, 'Meridian p99 above the link (embedded)', m.s.p99, 2, 'ms', 3));
  else checks.push(missing(BENCH, 'Meridian p99 above the link (embedded)', '≤ 2 ms', m?.why ?? 'not run'));
  const mn = rows.find((r) => r.side === 'Meridian, NATS');
  if (mn?.s) checks.push(maxCheck(BENCH, 'Meridian p99 above the link (NATS)', mn.s.p99, 2, 'ms', 3));
  else if (mn) checks.push(missing(BENCH, 'Meridian p99 above the link (NATS)', '≤ 2 ms', mn.why ?? 'not run'));
  const e = rows[0]?.s;
  if (e) checks.push({ bench: BENCH, what: 'embedded bus floor p99 above the link', measured: `${e.p99.toFixed(3)} ms`, target: 'report', met: null });
  const n = rows[1]?.s;
  if (n) checks.push({ bench: BENCH, what: 'NATS bus floor p99 above the link', measured: `${n.p99.toFixed(3)} ms`, target: 'report', met: null });
  emit({ bench: BENCH, checks, detail, notes: ['the embedded link fires on Node timers (1 ms granularity); the NATS link is a userspace TCP proxy', `Meridian sides: ${benchMetricsNote}`] }, values.json);
}

if (values.role === 'server') {
  const regions = await startMeridianRegions({ regions: ['us-east', 'eu-west'], linkMs, log: values.log === 'memory' ? 'memory' : 'file' });
  answerLoopDelay();
  process.send?.(Object.fromEntries([...regions.nodes].map(([r, n]) => [r, n.url])));
  exitWithParent(() => regions.close());
} else if (values.role === 'nats-node') {
  const region = values.region ?? '';
  const bus = await connectNatsBus({ region, servers: [values.nats ?? ''] });
  const dir = mkdtempSync(join(tmpdir(), 'meridian-bench-node-'));
  const started = await startNodeOnBus(bus, region, dir);
  answerLoopDelay();
  process.send?.(started.node.url);
  exitWithParent(async () => {
    await started.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });
} else await main();

/**
 * In a server role: watch the event loop, and answer `{ cmd: 'loop' }` with the worst delay
 * since the last ask (ms), so a report can tell a stalled server from a slow path.
 */
function answerLoopDelay(): void {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  process.on('message', (m: { cmd?: string }) => {
    if (m.cmd !== 'loop') return;
    process.send?.({ p99: h.percentile(99) / 1e6, max: h.max / 1e6 });
    h.reset();
  });
}

/** Open a Meridian socket as `user` (dev auth); resolve after welcome (and joined, with a room). */
function meridianSocket(base: string, user: string, room?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, ['meridian.v1'], { perMessageDeflate: false });
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'auth', id: 'a', user })));
    const onFrame = (data: Buffer): void => {
      const f = JSON.parse(data.toString()) as { type: string };
      if (f.type === 'welcome' && room !== undefined) ws.send(JSON.stringify({ type: 'join', id: 'j', room }));
      else if (f.type === 'welcome' || f.type === 'joined') {
        ws.off('message', onFrame);
        resolve(ws);
      } else if (f.type === 'error') reject(new Error(data.toString()));
    };
    ws.on('message', onFrame);
  });
}

/**
 * Region nodes us-east (the room's home: its first sender is there) and eu-west in a server
 * process; this process sends on us-east and receives on eu-west, so each message crosses the
 * link once: sender → node (log append) → bus → link → node → receiver.
 */
async function overMeridian(log: 'file' | 'memory'): Promise<Summary> {
  const server = await forkRole<Record<string, string>>(self, 'server', ['--link-ms', String(linkMs), '--log', log]);
  try {
    await server.ask({ cmd: 'loop' });
    const r = await meridianTraffic(server.ready['us-east'] ?? '', server.ready['eu-west'] ?? '');
    loopDelays.set(log === 'memory' ? 'Meridian, embedded, log in memory' : 'Meridian, embedded', await server.ask<LoopDelay>({ cmd: 'loop' }));
    return r;
  } finally {
    await server.stop();
  }
}

/**
 * The same over NATS: a two-region super-cluster (JetStream on: messaging and presence keep
 * their KV buckets there) with the link on its gateways, and each region node in its own
 * process on a nats.js bus, SQLite log on a file.
 */
async function overMeridianNats(): Promise<Summary> {
  const sc = await startSuperCluster({ regions: ['us-east', 'eu-west'], latencyMs: linkMs, jetstream: true });
  const roles: Role<string>[] = [];
  try {
    // us-east first: it homes the KV buckets the other node opens.
    for (const r of ['us-east', 'eu-west']) roles.push(await forkRole<string>(self, 'nats-node', ['--region', r, '--nats', sc.url(r)], { timeoutMs: 60_000 }));
    for (const r of roles) await r.ask({ cmd: 'loop' });
    const result = await meridianTraffic(roles[0]?.ready ?? '', roles[1]?.ready ?? '');
    const d = await Promise.all(roles.map((r) => r.ask<LoopDelay>({ cmd: 'loop' })));
    loopDelays.set('Meridian, NATS', { p99: Math.max(...d.map((x) => x.p99)), max: Math.max(...d.map((x) => x.max)) });
    return result;
  } finally {
    for (const r of roles.reverse()) await r.stop();
    await sc.close();
  }
}

async function meridianTraffic(home: string, remote: string): Promise<Summary> {
  const socks: WebSocket[] = [];
  try {
    const room = 'bench-xr';
    const rx = await meridianSocket(remote, 'rx', room);
    const tx = await meridianSocket(home, 'tx');
    socks.push(rx, tx);
    const over: number[] = [];
    let warm = false;
    rx.on('message', (data: Buffer) => {
      const f = JSON.parse(data.toString()) as { type: string; body?: { t: number } };
      if (f.type !== 'message' || f.body === undefined) return;
      if (f.body.t < 0) warm = true;
      else over.push(performance.now() - f.body.t - linkMs);
    });
    let n = 0;
    const send = (t: number): void => tx.send(JSON.stringify({ type: 'send', id: `s${++n}`, to: { room }, body: { t, pad: 'x'.repeat(80) }, clientMsgId: `c${n}` }));
    const end = Date.now() + 15_000;
    while (!warm && Date.now() < end) {
      send(-1);
      await sleep(200);
    }
    if (!warm) throw new Error('no Meridian message crossed the link within 15 s');
    await sleep(linkMs * 3);
    over.length = 0;
    const total = Math.round(rate * seconds);
    const interval = 1000 / rate;
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = t0 + i * interval - performance.now();
      if (wait > 1) await sleep(wait);
      send(performance.now());
    }
    const drainEnd = Date.now() + 5_000;
    while (over.length < total && Date.now() < drainEnd) await sleep(20);
    if (over.length < total) throw new Error(`${total - over.length} of ${total} Meridian messages did not arrive`);
    return summarize(over);
  } finally {
    for (const s of socks) s.terminate();
  }
}
