/**
 * Room fan-out: one sender, `--subscribers` sockets in one room, 100-byte bodies; deliveries per
 * second, side by side in one run:
 *   - raw ws + bufferutil, frame once and write the same bytes to every socket (the target's
 *     baseline), plain `ws.send` per socket, and (context) frame once with every socket corked
 *     until the end of the event-loop turn — the write path Meridian's node uses;
 *   - Socket.IO 4, `io.to(room).emit`;
 *   - Meridian: a region node (embedded bus, dev auth) with every subscriber joined to the room.
 * The server runs in its own process; all sockets (subscribers and the sender) live in one client
 * process that counts deliveries, with a lean hand-written WebSocket client (lib/lean-ws.ts) that
 * only parses frame headers — with `ws` as the client, the client process saturated first. The sender keeps at most `--window` messages in flight end to
 * end (sent × subscribers − deliveries ≤ window × subscribers), so no queue grows without bound.
 * Besides deliveries/s (wall clock), the server's CPU time gives deliveries per server
 * CPU-second: on 2 cores the client process takes about one core, and that number does not
 * depend on it.
 *
 *   npx tsx bench/fanout.ts [--subscribers 1000] [--seconds 3] [--window 64] [--rounds 2] [--log file|memory] [--json out.json]
 *
 * `--log` is the Meridian node's message log: `file` (default: durable, an fsync per group
 * commit) or `memory`. Every send is appended before it fans out, so with few subscribers the
 * durable append, not the fan-out, can pace deliveries/s: in a smoke run with 100 subscribers and
 * the file log, the server used a third of a core and the arm doing less work per message
 * delivered fewer per second (with the log in memory, more). Deliveries per server CPU-s still
 * shows the work; `memory` measures the fan-out path without the disk.
 *
 * MERIDIAN_BENCH_METRICS=off runs the Meridian side without metrics and tracing SDK (default on,
 * lib/meridian.ts).
 *
 *   npx tsx bench/fanout.ts --metrics-compare [--rounds 5] [--seconds 3] [--subscribers 1000] [--log file|memory]
 *
 * What observability costs (issue 13, goal ≤ 5 % of throughput): only the Meridian side, metrics
 * off and on interleaved in one invocation (lib/compare.ts), `--rounds` rounds of each (5 by
 * default), a fresh server and client process per measurement. Off: inert node metrics, none in
 * messaging, no tracing SDK; on: the node's metrics in node and messaging and a registered SDK
 * that samples nothing (MERIDIAN_BENCH_TRACE_RATIO gives it another ratio). Per arm: the median
 * and spread of deliveries/s and of deliveries per server CPU-second; the cost is that of the
 * medians, with the per-round cost and the load average beside it.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exitWithParent, forkRole, sleep } from './lib/proc.js';
import type { Role } from './lib/proc.js';
import { emit, missing, ratioCheck } from './lib/report.js';
import type { Check } from './lib/report.js';
import { fmt, table } from './lib/stats.js';
import { openClient, openMany } from './lib/ws-clients.js';
import type { BenchSocket, ServerKind } from './lib/ws-clients.js';
import { startRawWs, startSocketIo } from './lib/ws-servers.js';
import type { StartedServer } from './lib/ws-servers.js';
import { benchMetricsNote, compareObservability, meridianAvailable, observabilityArg, observabilityNote, parseObservability, startMeridianNode } from './lib/meridian.js';
import type { Observability } from './lib/meridian.js';
import { costPct, fmtPct, fmtSpread, halfRangePct, interleaved, loadNote, pairedCosts, spread } from './lib/compare.js';

const BENCH = 'room fan-out';
const self = fileURLToPath(import.meta.url);
/** The comparison's report: a bench of its own in the runner's summary (run.ts `fanout-metrics`). */
const CMP_BENCH = 'room fan-out, metrics off vs on';
/** Issue 13's goal: metrics and a registered SDK cost at most this share of throughput. */
const COST_GOAL_PCT = 5;
const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '3' },
    window: { type: 'string', default: '64' },
    rounds: { type: 'string' },
    'metrics-compare': { type: 'boolean', default: false },
    observe: { type: 'string' },
    log: { type: 'string', default: 'file' },
    bytes: { type: 'string', default: '100' },
    role: { type: 'string' },
    kind: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
  },
});
const subscribers = Number(values.subscribers);
const seconds = Number(values.seconds);
const windowSize = Number(values.window);
const compare = values['metrics-compare'];
const meridianLog = values.log === 'memory' ? 'memory' : 'file';
const rounds = Number(values.rounds ?? (compare ? 5 : 2));
const body = 'x'.repeat(Number(values.bytes));

type ServerMsg = { cmd: 'cpu' };
type ClientMsg = { cmd: 'connect'; base: string; kind: ServerKind } | { cmd: 'start' } | { cmd: 'count' } | { cmd: 'stop' };

export interface Count {
  readonly deliveries: number;
  readonly sent: number;
  readonly atNs: number;
  readonly cpuUs: number;
}

if (values.role === 'server') {
  const kind = values.kind as ServerKind;
  const started: StartedServer = kind === 'socket.io' ? await startSocketIo() : kind === 'meridian' ? await startMeridianNode({ observability: parseObservability(values.observe), log: meridianLog }) : await startRawWs({ frameOnce: kind === 'raw-ws', cork: kind === 'raw-ws-corked' });
  process.on('message', (m: ServerMsg) => {
    if (m.cmd === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpuUs: u.user + u.system, atNs: Number(process.hrtime.bigint()), connections: started.connections() });
    }
  });
  process.send?.(started.url);
  exitWithParent(() => started.close());
} else if (values.role === 'clients') {
  clientProcess();
} else if (compare) {
  await compareMain();
} else {
  await main();
}

function clientProcess(): void {
  let deliveries = 0;
  let sent = 0;
  let running = false;
  let pub: BenchSocket | undefined;
  let subs: BenchSocket[] = [];
  const pump = (): void => {
    while (running && pub !== undefined && sent * subscribers - deliveries < windowSize * subscribers && pub.sock.bufferedAmount < 1 << 20) {
      pub.send(body);
      sent++;
    }
  };
  const onDelivery = (): void => {
    deliveries++;
    if (running && (deliveries & 63) === 0) pump();
  };
  const count = (): Count => {
    const u = process.cpuUsage();
    return { deliveries, sent, atNs: Number(process.hrtime.bigint()), cpuUs: u.user + u.system };
  };
  process.on('message', (m: ClientMsg) => {
    void (async () => {
      if (m.cmd === 'connect') {
        subs = await openMany(subscribers, 50, (i) => openClient({ kind: m.kind, base: m.base, role: 'sub', user: `u${i}`, room: 'bench', onDelivery }));
        pub = await openClient({ kind: m.kind, base: m.base, role: 'pub', user: 'sender', room: 'bench' });
        process.send?.({ connected: subs.length });
      } else if (m.cmd === 'start') {
        running = true;
        pump();
        // A delivery-driven pump can stall if a batch ends between multiples of 64.
        const t = setInterval(pump, 1);
        process.once('disconnect', () => clearInterval(t));
        process.send?.(count());
      } else if (m.cmd === 'count') process.send?.(count());
      else {
        running = false;
        // Drain: wait (bounded) for everything sent to arrive, then report loss if any.
        const end = Date.now() + 5_000;
        while (deliveries < sent * subscribers && Date.now() < end) await sleep(20);
        process.send?.(count());
        for (const s of [...subs, ...(pub ? [pub] : [])]) s.sock.close();
      }
    })();
  });
  process.send?.('ready');
  exitWithParent();
}

interface Side {
  readonly kind: ServerKind;
  readonly deliveriesPerSec: number;
  readonly perServerCpuSec: number;
  readonly serverCpu: number;
  readonly clientCpu: number;
  readonly lost: number;
}

/** One measurement in fresh processes; `observe` sets the Meridian side's metrics and tracing. */
async function measure(kind: ServerKind, observe?: Observability): Promise<Side> {
  const roles: Role<string>[] = [];
  try {
    const server = await forkRole<string>(self, 'server', ['--kind', kind, '--log', meridianLog, ...(observe === undefined ? [] : ['--observe', observabilityArg(observe)])], process.env['MRD_BENCH_PROF'] ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir=' + process.env['MRD_BENCH_PROF']] } : {});
    roles.push(server);
    const clients = await forkRole<string>(self, 'clients', ['--subscribers', String(subscribers), '--window', String(windowSize), '--bytes', String(body.length)]);
    roles.push(clients);
    await clients.ask({ cmd: 'connect', base: server.ready, kind });
    await clients.ask({ cmd: 'start' });
    await sleep(500);
    const s0 = await server.ask<{ cpuUs: number; atNs: number }>({ cmd: 'cpu' });
    const c0 = await clients.ask<Count>({ cmd: 'count' });
    await sleep(seconds * 1000);
    const s1 = await server.ask<{ cpuUs: number; atNs: number }>({ cmd: 'cpu' });
    const c1 = await clients.ask<Count>({ cmd: 'count' });
    const end = await clients.ask<Count>({ cmd: 'stop' }, 30_000);
    const wall = (c1.atNs - c0.atNs) / 1e9;
    const d = c1.deliveries - c0.deliveries;
    const serverCpuS = (s1.cpuUs - s0.cpuUs) / 1e6;
    return { kind, deliveriesPerSec: d / wall, perServerCpuSec: d / serverCpuS, serverCpu: serverCpuS / ((s1.atNs - s0.atNs) / 1e9), clientCpu: (c1.cpuUs - c0.cpuUs) / 1e6 / wall, lost: end.sent * subscribers - end.deliveries };
  } finally {
    for (const r of roles.reverse()) await r.stop();
  }
}

async function main(): Promise<void> {
  const kinds: ServerKind[] = ['raw-ws', 'raw-ws-send', 'raw-ws-corked', 'socket.io'];
  const meridian = await meridianAvailable();
  if (meridian.ok) kinds.push('meridian');
  if (values.only !== undefined) {
    const only = values.only.split(',');
    kinds.splice(0, kinds.length, ...kinds.filter((k) => only.includes(k)));
  }
  // Rounds interleave the servers so a burst of outside load hits one round of each; every side
  // keeps its least disturbed round (most deliveries/s).
  const runs: Side[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const k of kinds) {
      const s = await measure(k);
      runs.push(s);
      console.log(`  round ${r + 1} ${s.kind}: ${fmt(s.deliveriesPerSec)} deliveries/s, ${fmt(s.perServerCpuSec)} per server CPU-s, server CPU ${(s.serverCpu * 100).toFixed(0)} %`);
    }
  }
  const sides: Side[] = kinds.map((k) => runs.filter((x) => x.kind === k).reduce((a, b) => (b.deliveriesPerSec > a.deliveriesPerSec ? b : a)));
  const by = (k: ServerKind): Side | undefined => sides.find((s) => s.kind === k);
  const detail = [
    `${subscribers} subscribers in one room, one sender, ${body.length} B bodies, ≤ ${windowSize} messages in flight, ${seconds} s per side, best of ${rounds} interleaved rounds`,
    table(
      ['server', 'deliveries/s', 'per server CPU-s', 'server CPU', 'client CPU', 'not delivered'],
      sides.map((s) => [s.kind, fmt(s.deliveriesPerSec), fmt(s.perServerCpuSec), `${(s.serverCpu * 100).toFixed(0)} %`, `${(s.clientCpu * 100).toFixed(0)} %`, fmt(s.lost)]),
    ),
  ].join('\n');
  const raw = by('raw-ws');
  const sio = by('socket.io');
  const m = by('meridian');
  const checks: Check[] = [];
  if (m && raw && sio) {
    checks.push(ratioCheck(BENCH, 'Meridian vs raw ws frame-once', m.deliveriesPerSec, raw.deliveriesPerSec, 0.85, 'deliveries/s'));
    checks.push(ratioCheck(BENCH, 'Meridian vs Socket.IO', m.deliveriesPerSec, sio.deliveriesPerSec, 5, 'deliveries/s'));
    checks.push(ratioCheck(BENCH, 'Meridian vs raw ws, per server CPU-s', m.perServerCpuSec, raw.perServerCpuSec, 0.85, 'deliveries/CPU-s'));
    checks.push(ratioCheck(BENCH, 'Meridian vs Socket.IO, per server CPU-s', m.perServerCpuSec, sio.perServerCpuSec, 5, 'deliveries/CPU-s'));
  } else {
    checks.push(missing(BENCH, 'Meridian vs raw ws frame-once', '≥ 0.85×', meridian.ok ? 'a side failed' : meridian.why));
    checks.push(missing(BENCH, 'Meridian vs Socket.IO', '≥ 5×', meridian.ok ? 'a side failed' : meridian.why));
  }
  const corkedRaw = by('raw-ws-corked');
  if (m && corkedRaw) checks.push({ bench: BENCH, what: 'Meridian vs raw ws frame-once + corked writes (context)', measured: `${(m.deliveriesPerSec / corkedRaw.deliveriesPerSec).toFixed(2)}× (${fmt(m.deliveriesPerSec)} vs ${fmt(corkedRaw.deliveriesPerSec)})`, target: 'report', met: null });
  if (raw && sio) checks.push({ bench: BENCH, what: 'raw ws frame-once vs Socket.IO (context)', measured: `${(raw.deliveriesPerSec / sio.deliveriesPerSec).toFixed(1)}×`, target: 'report', met: null });
  emit({ bench: BENCH, checks, detail, notes: ['client process (all sockets) and server share 2 cores; "per server CPU-s" does not depend on the client', `Meridian side: ${benchMetricsNote}`] }, values.json);
}

/** `--metrics-compare`: the Meridian side with metrics off and on, interleaved (lib/compare.ts). */
async function compareMain(): Promise<void> {
  const what = 'metrics cost on fan-out';
  const meridian = await meridianAvailable();
  if (!meridian.ok) {
    emit({ bench: CMP_BENCH, checks: [missing(CMP_BENCH, `${what} deliveries/s (#13)`, `≤ ${COST_GOAL_PCT} %`, meridian.why)], detail: '', notes: [] }, values.json);
    return;
  }
  const runs = await interleaved(rounds, (o) => measure('meridian', o), (m) => {
    const s = m.value;
    console.log(`  round ${m.round + 1} metrics ${m.arm.padEnd(3)}: ${fmt(s.deliveriesPerSec)} deliveries/s, ${fmt(s.perServerCpuSec)} per server CPU-s, server CPU ${(s.serverCpu * 100).toFixed(0)} %, load ${m.load.toFixed(2)}`);
  });
  const arm = (a: 'off' | 'on'): Side[] => runs.filter((r) => r.arm === a).map((r) => r.value);
  const rows = [
    { name: 'deliveries/s', f: (s: Side) => s.deliveriesPerSec },
    { name: 'deliveries per server CPU-s', f: (s: Side) => s.perServerCpuSec },
  ].map((r) => {
    const off = spread(arm('off').map(r.f));
    const on = spread(arm('on').map(r.f));
    return { ...r, off, on, cost: costPct(off.median, on.median, 'higher'), paired: spread(pairedCosts(runs, r.f, 'higher')) };
  });
  const modes = compareObservability();
  const lost = (a: 'off' | 'on'): number => arm(a).reduce((n, s) => n + s.lost, 0);
  const serverCpu = (a: 'off' | 'on'): string => `${(spread(arm(a).map((s) => s.serverCpu)).median * 100).toFixed(0)} %`;
  const load = loadNote(runs);
  const loads = spread(runs.map((m) => m.load));
  const loadRange = `${loads.min.toFixed(1)}–${loads.max.toFixed(1)}`;
  const detail = [
    `${subscribers} subscribers in one room, one sender, ${body.length} B bodies, ≤ ${windowSize} messages in flight, ${seconds} s per measurement, log ${meridianLog === 'file' ? 'on a file (fsync per group commit)' : 'in memory'}; ${rounds} interleaved rounds of each arm (off/on, on/off, …), fresh processes each`,
    `off: ${observabilityNote(modes.off)}; on: ${observabilityNote(modes.on)}`,
    table(
      ['', 'off: median (min–max, ±half range)', 'on: median (min–max, ±half range)', 'cost of medians', 'cost per round: median (min–max)'],
      [
        ...rows.map((r) => [r.name, fmtSpread(r.off), fmtSpread(r.on), fmtPct(r.cost), `${fmtPct(r.paired.median)} (${fmtPct(r.paired.min)} … ${fmtPct(r.paired.max)})`]),
        ['server CPU (median)', serverCpu('off'), serverCpu('on'), '', ''],
        ['not delivered (all rounds)', fmt(lost('off')), fmt(lost('on')), '', ''],
      ],
    ),
    load,
  ].join('\n');
  const checks: Check[] = rows.map((r) => ({
    bench: CMP_BENCH,
    what: `${what} ${r.name} (#13, median of ${rounds} interleaved rounds)`,
    measured: `${fmtPct(r.cost)} (on ${fmt(r.on.median)} vs off ${fmt(r.off.median)}; rounds ±${halfRangePct(r.on).toFixed(1)} / ±${halfRangePct(r.off).toFixed(1)} %; load ${loadRange})`,
    target: `≤ ${COST_GOAL_PCT} %`,
    met: Number.isFinite(r.cost) ? r.cost <= COST_GOAL_PCT : null,
  }));
  const notes = ['cost: how much less on does than off, in % of off (negative: on did more, i.e. no cost measurable)'];
  const noisy = rows.filter((r) => Math.max(halfRangePct(r.off), halfRangePct(r.on)) > COST_GOAL_PCT);
  if (noisy.length > 0) notes.push(`noisy: the rounds of one arm scatter by more than the ${COST_GOAL_PCT} % goal (${noisy.map((r) => r.name).join(', ')}); a verdict needs a quieter machine or more --rounds`);
  emit({ bench: CMP_BENCH, checks, detail, notes }, values.json);
}
