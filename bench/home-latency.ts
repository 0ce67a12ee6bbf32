/**
 * Issue 10's latency goals ("No special region"), measured through real region nodes and real
 * clients (`MeridianClient`, dev auth) on both buses:
 *   - first send of a NEW direct conversation: at most one round trip to the region that becomes
 *     its home, none when that is the sender's region. A sender in `--sender` (us-east) starts
 *     conversations whose home (rendezvous hashing, src/placement) is the sender's region, then
 *     each of the other two regions (recipient names are picked so the pair hashes there); timed
 *     from `client.send` to its ack, next to the sender→home round trip (2 × the one-way link);
 *   - receipt: the recipient, connected in `--recipient` (eu-west), marks the message read
 *     (`client.markRead`, a `read` frame); timed from that call to the `receipt` frame arriving
 *     at the sender's client, next to the one-way link recipient→sender. For conversations homed
 *     in the sender's, the recipient's and the third region: the third is the fast path's point
 *     (the recipient's region publishes the receipt itself, without waiting for the home).
 * Buses: every region of the default topology in one server process (src/runtime/deployment.ts)
 *   - embedded: the topology's one-way latencies (great-circle distance, 1 ms per 100 km), the
 *     SQLite log on a temp file (fsync per append);
 *   - NATS: the 3-region super-cluster harness (src/testing), JetStream on, `--link-ms` (50) on
 *     every gateway link through its TCP proxies; skipped without nats-server.
 * The clients run in this process, one at a time on an otherwise idle link: each conversation is
 * measured alone (send, delivery, read, receipt) before the next starts. Rounds connect fresh
 * recipients (every conversation is new); homes are interleaved within a round. A target is
 * "met" when the median is within it; the target is the round trips plus `--slack-ms`
 * ("a few ms"). The bus floor (request/reply round trips between the regions' buses, no Meridian
 * code) is printed below the table.
 *
 *   npx tsx bench/home-latency.ts [--rounds 5] [--conversations 20] [--link-ms 50] [--slack-ms 5]
 *     [--sender us-east] [--recipient eu-west] [--max-seconds 90] [--no-embedded] [--no-nats] [--json out.json]
 * `--conversations` is per case (home) and round; `--max-seconds` bounds each bus's measuring
 * (setup excluded): conversations past it are not started and the report says so.
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Bus } from '../src/bus/types.js';
import { MeridianClient } from '../src/client/node.js';
import type { Message } from '../src/client/node.js';
import { setDefaultLogLevel } from '../src/observability/logger.js';
import { ConversationPlacement } from '../src/placement/mod.js';
import { dmConversation } from '../src/protocol/mod.js';
import type { ReceiptFrame } from '../src/protocol/mod.js';
import { startDeployment } from '../src/runtime/deployment.js';
import { answerPings, ping } from '../src/runtime/ping.js';
import { findNatsServer, startSuperCluster } from '../src/testing/mod.js';
import type { SuperCluster } from '../src/testing/mod.js';
import { defaultTopology, linkLatencyMs } from '../src/topology/mod.js';
import { machine } from './lib/machine.js';
import { exitWithParent, forkRole, sleep, withTimeout } from './lib/proc.js';
import type { Role } from './lib/proc.js';
import { emit, missing } from './lib/report.js';
import type { Check } from './lib/report.js';
import { fmt, signed, summarize, table } from './lib/stats.js';

const BENCH = 'home latency (issue 10)';
const self = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    conversations: { type: 'string', default: '20' },
    'link-ms': { type: 'string', default: '50' },
    'slack-ms': { type: 'string', default: '5' },
    sender: { type: 'string', default: 'us-east' },
    recipient: { type: 'string', default: 'eu-west' },
    'max-seconds': { type: 'string', default: '90' },
    'no-embedded': { type: 'boolean', default: false },
    'no-nats': { type: 'boolean', default: false },
    role: { type: 'string' },
    bus: { type: 'string' },
    nats: { type: 'string' },
    json: { type: 'string' },
  },
});
const rounds = bounded('rounds', values.rounds, 1, 100);
const perCase = bounded('conversations', values.conversations, 1, 500);
const natsLinkMs = bounded('link-ms', values['link-ms'], 0, 5000);
const slackMs = Number(values['slack-ms']);
const maxMs = bounded('max-seconds', values['max-seconds'], 1, 3600) * 1000;
const topology = defaultTopology();
const REGIONS = topology.regions.map((r) => r.name);
const S = values.sender;
const R = values.recipient;
if (!REGIONS.includes(S) || !REGIONS.includes(R) || S === R) throw new Error(`--sender and --recipient must be two different regions of ${REGIONS.join(', ')}`);
const THIRD = REGIONS.find((r) => r !== S && r !== R) ?? '';
const placement = new ConversationPlacement(topology);
/** A send, a delivery or a receipt not seen within this is a failed sample (the run goes on). */
const STEP_TIMEOUT_MS = 10_000;
const CONNECT_PARALLEL = 8;

function bounded(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, not ${v}`);
  return n;
}

type BusKind = 'embedded' | 'nats';

interface Ready {
  /** ws:// URL of each region's node. */
  readonly ws: Record<string, string>;
}

interface LoopDelay {
  readonly p99: number;
  readonly max: number;
}

// ---- server role: every region of the default topology in one process ----------------------

async function serverRole(): Promise<void> {
  setDefaultLogLevel('warn');
  const bus: BusKind = values.bus === 'nats' ? 'nats' : 'embedded';
  const d = await startDeployment(topology, bus === 'nats' ? { bus, nats: values.nats ?? '' } : { bus });
  for (const b of d.buses.buses.values()) answerPings(b);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.on('message', (m: { cmd?: string; from?: string }) => {
    if (m.cmd === 'loop') {
      process.send?.({ p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 });
      loop.reset();
    } else if (m.cmd === 'rtt') void busRtts(d.buses.buses, m.from ?? '').then((r) => process.send?.(r));
  });
  process.send?.({ ws: Object.fromEntries(REGIONS.map((r) => [r, d.wsUrl(r)])) } satisfies Ready);
  exitWithParent(() => d.close());
}

/** Median of 5 bus request/reply round trips from `from` to every other region (ms). */
async function busRtts(buses: ReadonlyMap<string, Bus>, from: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const bus = buses.get(from);
  if (!bus) return out;
  for (const to of REGIONS) {
    if (to === from) continue;
    const t: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ms = await ping(bus, to, 3000);
      if (ms !== undefined) t.push(ms);
    }
    out[to] = summarize(t).p50;
  }
  return out;
}

// ---- the measuring side ------------------------------------------------------------------

type CaseKind = 'first-send' | 'receipt';

interface Case {
  readonly kind: CaseKind;
  /** The conversation's home. */
  readonly home: string;
  readonly label: string;
  /** The link the goal is stated against (one way, ms). */
  readonly linkMs: number;
  /** Round trips (first send) or one-way delays (receipt) the goal allows. */
  readonly allowance: number;
  readonly samples: number[];
  readonly loads: number[];
  failures: number;
}

interface BusResult {
  readonly bus: BusKind;
  readonly cases: Case[];
  readonly floor: Record<string, number>;
  readonly loop: LoopDelay | undefined;
  /** Seconds spent measuring (warm-up and rounds; setup excluded). */
  readonly seconds: number;
  readonly notes: string[];
  readonly error?: string;
}

function oneWay(bus: BusKind, a: string, b: string): number {
  if (a === b) return 0;
  return bus === 'nats' ? natsLinkMs : linkLatencyMs(topology, a, b);
}

function casesFor(bus: BusKind): Case[] {
  const mk = (kind: CaseKind, home: string, label: string, linkMs: number, allowance: number): Case => ({ kind, home, label, linkMs, allowance, samples: [], loads: [], failures: 0 });
  const others = REGIONS.filter((r) => r !== S).sort((a, b) => oneWay(bus, S, a) - oneWay(bus, S, b));
  return [
    mk('first-send', S, `first send, home = sender's region (${S})`, 0, 0),
    ...others.map((h) => mk('first-send', h, `first send, home = ${h} (one link from ${S})`, oneWay(bus, S, h), 2)),
    mk('receipt', S, `receipt ${R} → ${S}, home = sender's region (${S})`, oneWay(bus, R, S), 1),
    mk('receipt', R, `receipt ${R} → ${S}, home = recipient's region (${R})`, oneWay(bus, R, S), 1),
    mk('receipt', THIRD, `receipt ${R} → ${S}, home = third region (${THIRD})`, oneWay(bus, R, S), 1),
  ];
}

/** A recipient name for `sender` whose direct conversation is homed in `home`. */
function recipientHomedIn(sender: string, home: string, tag: string): string {
  for (let k = 0; k < 10_000; k++) {
    const name = `${tag}-${k}`;
    if (placement.homeOf(dmConversation(sender, name)) === home) return name;
  }
  throw new Error(`no recipient name hashes ${sender}'s conversation to ${home}`);
}

async function openClient(url: string, user: string): Promise<MeridianClient> {
  const c = new MeridianClient({ url, user, autoAck: false, reconnect: false });
  try {
    await withTimeout(c.connected(), 15_000, `${user} not connected`);
  } catch (err) {
    await c.close();
    throw err;
  }
  return c;
}

/** Resolves with performance.now() at the first `event` matching `pred`; `cancel` drops it. */
function arrival<T extends 'message' | 'receipt'>(c: MeridianClient, event: T, pred: (v: T extends 'message' ? Message : ReceiptFrame) => boolean): { at: Promise<number>; cancel(): void } {
  let off: () => void = () => undefined;
  const at = new Promise<number>((resolve) => {
    off = c.on(event, ((v: T extends 'message' ? Message : ReceiptFrame) => {
      if (!pred(v)) return;
      off();
      resolve(performance.now());
    }) as never);
  });
  return { at, cancel: () => off() };
}

function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * One new conversation, measured alone: the send until its ack, then (once the recipient has the
 * message) its read until the receipt reaches the sender. Returns [first send ms, receipt ms].
 */
async function conversation(tx: MeridianClient, sender: string, rx: MeridianClient, recipient: string): Promise<[number, number]> {
  const conv = dmConversation(sender, recipient);
  const got = arrival(rx, 'message', (m) => m.conversation === conv);
  let seq: number;
  const t0 = performance.now();
  try {
    const ack = await withTimeout(quiet(tx.send({ user: recipient }, { bench: 'home-latency' })), STEP_TIMEOUT_MS, 'send not acked');
    seq = ack.seq;
  } catch (err) {
    got.cancel();
    throw err;
  }
  const first = performance.now() - t0;
  try {
    await withTimeout(got.at, STEP_TIMEOUT_MS, 'message not delivered to the recipient');
  } finally {
    got.cancel();
  }
  const receipt = arrival(tx, 'receipt', (r) => r.kind === 'read' && r.conversation === conv && r.user === recipient && r.seq >= seq);
  const t1 = performance.now();
  rx.markRead(conv, seq);
  try {
    const at = await withTimeout(receipt.at, STEP_TIMEOUT_MS, 'no read receipt at the sender');
    return [first, at - t1];
  } finally {
    receipt.cancel();
  }
}

async function measureBus(bus: BusKind): Promise<BusResult> {
  const cases = casesFor(bus);
  const notes: string[] = [];
  let sc: SuperCluster | undefined;
  let server: Role<Ready> | undefined;
  const clients = new Set<MeridianClient>();
  try {
    const args = ['--bus', bus, '--sender', S, '--recipient', R];
    if (bus === 'nats') {
      sc = await startSuperCluster({ regions: REGIONS, latencyMs: natsLinkMs, jetstream: true });
      const nats = sc;
      args.push('--nats', REGIONS.map((r) => `${r}=${nats.url(r)}`).join(','));
    }
    server = await forkRole<Ready>(self, 'server', args, { timeoutMs: 90_000 });
    const ws = server.ready.ws;
    const floor = await server.ask<Record<string, number>>({ cmd: 'rtt', from: S }, 60_000);
    const nonce = randomBytes(4).toString('hex');
    const sender = `s-${nonce}`;
    const tx = await openClient(ws[S] ?? '', sender);
    clients.add(tx);
    const maxLink = Math.max(...REGIONS.flatMap((a) => REGIONS.map((b) => oneWay(bus, a, b))));
    // A new connection lists its inbox in every region and its interest crosses the links.
    const settleMs = 2 * maxLink + 300;
    const homes = [...new Set(cases.filter((c) => c.kind === 'first-send').map((c) => c.home))];

    const began = performance.now();
    // Warm-up (not counted): one conversation per home opens the buckets, the log and the paths.
    for (const [i, home] of homes.entries()) {
      const name = recipientHomedIn(sender, home, `w${i}-${nonce}`);
      const rx = await openClient(ws[R] ?? '', name);
      clients.add(rx);
      await sleep(settleMs);
      await conversation(tx, sender, rx, name);
      clients.delete(rx);
      await rx.close();
    }
    await server.ask({ cmd: 'loop' });

    const deadline = performance.now() + maxMs;
    let started = 0;
    let failed = 0;
    let cut = false;
    for (let round = 0; round < rounds && !cut; round++) {
      // This round's recipients, interleaved by home: [home0 #0, home1 #0, home2 #0, home0 #1, …].
      const plan = Array.from({ length: perCase }, (_, i) => homes.map((home) => ({ home, name: recipientHomedIn(sender, home, `r${round}-${i}-${home}-${nonce}`) }))).flat();
      const rxs = new Array<MeridianClient>(plan.length);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(CONNECT_PARALLEL, plan.length) }, async () => {
          while (next < plan.length) {
            const i = next++;
            const c = await openClient(ws[R] ?? '', plan[i]?.name ?? '');
            rxs[i] = c;
            clients.add(c);
          }
        }),
      );
      await sleep(settleMs);
      for (const [i, p] of plan.entries()) {
        if (performance.now() > deadline) {
          cut = true;
          notes.push(`${bus}: stopped after ${started} conversations (--max-seconds ${maxMs / 1000}); ${rounds * perCase * homes.length - started} not started`);
          break;
        }
        const rx = rxs[i];
        if (rx === undefined) continue;
        started++;
        const first = cases.find((c) => c.kind === 'first-send' && c.home === p.home);
        const receipt = cases.find((c) => c.kind === 'receipt' && c.home === p.home);
        try {
          const [f, r] = await conversation(tx, sender, rx, p.name);
          const load = loadavg()[0] ?? NaN;
          first?.samples.push(f);
          first?.loads.push(load);
          receipt?.samples.push(r);
          receipt?.loads.push(load);
        } catch (err) {
          if (first) first.failures++;
          if (receipt) receipt.failures++;
          if (++failed <= 5) notes.push(`${bus}: conversation homed in ${p.home} failed: ${err instanceof Error ? err.message : String(err)}${failed === 5 ? ' (further failures only counted)' : ''}`);
        }
      }
      for (const c of rxs) {
        if (c === undefined) continue;
        clients.delete(c);
        await c.close();
      }
    }
    const loop = await server.ask<LoopDelay>({ cmd: 'loop' });
    return { bus, cases, floor, loop, seconds: (performance.now() - began) / 1000, notes };
  } catch (err) {
    return { bus, cases, floor: {}, loop: undefined, seconds: NaN, notes, error: err instanceof Error ? err.message : String(err) };
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    await server?.stop();
    await sc?.close();
  }
}

/** What the bus alone takes for the case's path: the measured round trip to the home, or half the R–S round trip. */
function floorOf(r: BusResult, c: Case): number {
  if (c.kind === 'first-send') return c.home === S ? 0 : (r.floor[c.home] ?? NaN);
  return (r.floor[R] ?? NaN) / 2;
}

function target(c: Case): number {
  return c.allowance * c.linkMs + slackMs;
}

function targetText(c: Case): string {
  if (c.kind === 'first-send') return c.allowance === 0 ? `≤ ${fmt(slackMs, 1)} (no round trip)` : `≤ ${fmt(target(c), 1)} (RTT ${fmt(2 * c.linkMs, 1)} + ${fmt(slackMs, 1)})`;
  return `≤ ${fmt(target(c), 1)} (one way ${fmt(c.linkMs, 1)} + ${fmt(slackMs, 1)})`;
}

async function main(): Promise<void> {
  console.log(`machine: ${machine()}`);
  const results: BusResult[] = [];
  const skipped: [BusKind, string][] = [];
  if (values['no-embedded']) skipped.push(['embedded', '--no-embedded']);
  else results.push(await measureBus('embedded'));
  if (values['no-nats']) skipped.push(['nats', '--no-nats']);
  else if (findNatsServer() === null) skipped.push(['nats', 'nats-server not found (apt-get install nats-server; /usr/sbin on PATH)']);
  else results.push(await measureBus('nats'));

  const cell = (t: string): string => t.replace(/\|/g, '\\|');
  const md = ['| bus | case | link one-way ms | target ms | median ms | p90 ms | median above bus floor ms | n | load (1 min) |', '|---|---|---|---|---|---|---|---|---|'];
  const checks: Check[] = [];
  for (const r of results) {
    for (const c of r.cases) {
      const s = summarize([...c.samples]);
      const load = summarize([...c.loads]).p50;
      const n = c.failures > 0 ? `${s.n} (${c.failures} failed)` : String(s.n);
      md.push(`| ${[r.bus, c.label, fmt(c.linkMs, 1), targetText(c), fmt(s.p50, 1), fmt(s.p90, 1), signed(s.p50 - floorOf(r, c), 1), n, fmt(load, 2)].map(cell).join(' | ')} |`);
      const what = `${r.bus}: ${c.label}, median`;
      if (s.n === 0) checks.push(missing(BENCH, what, `≤ ${fmt(target(c), 1)} ms`, r.error ?? 'no sample'));
      else checks.push({ bench: BENCH, what, measured: `${fmt(s.p50, 1)} ms (p90 ${fmt(s.p90, 1)}, n ${s.n}, load ${fmt(load, 2)})`, target: `≤ ${fmt(target(c), 1)} ms`, met: s.p50 <= target(c) });
    }
  }
  for (const [bus, why] of skipped) checks.push(missing(BENCH, `${bus}: first send and receipt latency`, 'issue 10', why));
  const floorRows = results.map((r) => [
    r.bus,
    ...REGIONS.filter((x) => x !== S).map((x) => `${x} ${fmt(r.floor[x] ?? NaN, 1)} (nominal ${fmt(2 * oneWay(r.bus, S, x), 1)})`),
    r.loop ? `${fmt(r.loop.p99, 1)} / ${fmt(r.loop.max, 1)}` : '—',
    fmt(r.seconds, 0),
  ]);
  const detail = [
    `sender in ${S}, recipient in ${R}; ${rounds} round(s) × ${perCase} new direct conversation(s) per home; slack ${slackMs} ms; NATS links ${natsLinkMs} ms one way`,
    '',
    ...md,
    '',
    `bus floor: request/reply round trip from ${S}'s bus (median of 5, ms; "above bus floor" subtracts it, or half of it for a receipt), the server process's event-loop delay while measuring, seconds measuring`,
    table(['bus', ...REGIONS.filter((x) => x !== S).map((x) => `RTT to ${x}`), 'server loop p99/max', 's'], floorRows),
  ].join('\n');
  const notes = [
    'every region in one server process (src/runtime/deployment.ts), clients in the bench process; one conversation at a time',
    'first send: client.send → ack (a new direct conversation each time); receipt: recipient markRead → read receipt at the sender',
    ...results.flatMap((r) => (r.error === undefined ? r.notes : [...r.notes, `${r.bus}: failed: ${r.error}`])),
    ...skipped.map(([bus, why]) => `${bus}: skipped: ${why}`),
  ];
  emit({ bench: BENCH, checks, detail, notes }, values.json);
}

if (values.role === 'server') await serverRole();
else await main();
