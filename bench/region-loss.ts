/**
 * Region loss (issue 11's benchmark): replicated conversation logs and home failover under
 * traffic, through real region nodes and real clients (`MeridianClient`, dev auth), on
 *   (a) the embedded bus with the default topology (its great-circle link delays, SQLite logs on
 *       a temp dir: an fsync per append), and
 *   (b) the 3-region NATS super-cluster harness (src/testing), JetStream on, `--link-ms` (50) one
 *       way on every gateway link; skipped without nats-server (/usr/sbin on PATH).
 * Every region of the default topology runs in one server process (src/runtime/deployment.ts);
 * the clients run in this process (one clock for send and delivery).
 *
 * One "loss": a fresh deployment (a failover is for good: the replica keeps what it took over,
 * so each loss starts from a healthy deployment), `--clients` clients spread over the 3 regions
 * (client i in region i mod 3), paired for direct messages with a client in another region and
 * in rooms of `--room-size`; steady traffic at `--rate` sends/s over all clients (3 of 4 sends
 * direct, 1 room; at most 4 sends in flight per client, each given up after `kill + 15 s`). One
 * durability per conversation: every other direct pair and every other room is `replicated`, the
 * rest `local` (mixed in one conversation, a `local` send waits behind an earlier `replicated` one
 * still waiting for its replica: deliveries are in seq order). After a warm-up and
 * `--baseline-ms`, the region's bus is killed (embedded: `network.kill`; NATS: its nats-server
 * SIGKILLed) for `--kill-ms`, then brought back; traffic goes on for `--settle-ms`, stops, and every acked
 * message is looked up in the conversations' history, read through the region that was lost
 * (it forwards to the owner; another region if that fails). Each region is lost in turn, per
 * `--rounds`. Reported per lost region and overall (pooled), with the 1-minute load average:
 *   - kill → each client of the lost region `connected` on another region: p50/p99/max (goal p99
 *     ≤ 5 s), split into kill → `migrate` (the node waits 2 × heartbeat before it moves anyone)
 *     and `migrate` → connected (and kill → the first `resumed` there); clients not moved by the
 *     end of the settle count as infinitely late; `recovered: false` resumes are counted;
 *   - acked messages lost: every `replicated` ack (conversation, seq, messageId) must be in the
 *     history afterwards (goal 0); `local` acks lost are counted (no goal);
 *   - duplicates surfaced: a seq delivered twice to one client, or two messageIds seen (delivered
 *     or acked) at one seq of a conversation (goal 0); beside it, deliveries of stored acked
 *     messages that never reached a recipient (direct partner, room members; reported);
 *   - survivors' delivery latency p99 (send → `message` at another client, both clients in
 *     surviving regions) during the loss vs before it (goal ≤ 2×), over conversations the loss
 *     does not touch by design (owner not lost; `replicated` only when the replica is not lost);
 *     the p99 over all survivor traffic (conversations homed in the lost region wait for the
 *     failover) is reported beside it;
 *   - replication lag (`meridian_replication_lag_seconds` on each node's /metrics, summed, over
 *     the baseline window: every copy, `local` ones behind the ack and `replicated` ones before
 *     it): p99 (goal ≤ 250 ms at the harness's 100 ms RTT; on the embedded topology reported);
 *   - ack latency (send → ack) of `replicated` vs `local` sends to conversations homed in the
 *     sender's region, baseline window, medians per home (goal: replicated ≤ local + the RTT to
 *     the home's nearest replica + 2 ms).
 * On NATS the notes say where the JetStream meta leader was and when the survivors elected
 * another (a lost meta leader stalls what needs it in the surviving regions).
 * Then one markdown table (metric, goal, measured, verdict, load) for docs/performance.md.
 *
 *   npx tsx bench/region-loss.ts [--clients 2000] [--rounds 1] [--rate 200] [--room-size 10]
 *     [--kill-ms K] [--heartbeat-ms 5000] [--baseline-ms 8000] [--settle-ms 4000] [--link-ms 50]
 *     [--regions us-east,eu-west,ap-southeast] [--max-seconds 1200] [--no-embedded] [--no-nats]
 *     [--json out.json]
 * `--kill-ms` defaults to max(failoverAfterMs, 2 × heartbeat) + 4 s: long enough for both the
 * failover and the node's move of its clients. `--heartbeat-ms` is the region nodes' heartbeat
 * (the node default, 5 s, unless given): the node moves its clients 2 heartbeats after losing its
 * bus. `--max-seconds` bounds the run: losses not started by then are skipped and reported.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MeridianClient } from '../src/client/node.js';
import type { Message, SendAck } from '../src/client/node.js';
import { setDefaultLogLevel } from '../src/observability/logger.js';
import { ConversationPlacement } from '../src/placement/mod.js';
import { dmConversation } from '../src/protocol/mod.js';
import { startDeployment } from '../src/runtime/deployment.js';
import type { Deployment } from '../src/runtime/deployment.js';
import { findNatsServer, startSuperCluster } from '../src/testing/mod.js';
import type { SuperCluster } from '../src/testing/mod.js';
import { defaultTopology, linkLatencyMs } from '../src/topology/mod.js';
import { machine } from './lib/machine.js';
import { exitWithParent, forkRole, sleep, withTimeout } from './lib/proc.js';
import type { Role } from './lib/proc.js';
import { addBuckets, bucketQuantile, bucketsDelta, histogramBuckets } from './lib/prom.js';
import { emit, missing } from './lib/report.js';
import type { Check } from './lib/report.js';
import { fmt, percentile, summarize, table } from './lib/stats.js';

const BENCH = 'region loss (issue 11)';
const self = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '1' },
    rate: { type: 'string', default: '200' },
    'room-size': { type: 'string', default: '10' },
    'kill-ms': { type: 'string' },
    'heartbeat-ms': { type: 'string', default: '5000' },
    'baseline-ms': { type: 'string', default: '8000' },
    'settle-ms': { type: 'string', default: '4000' },
    'link-ms': { type: 'string', default: '50' },
    regions: { type: 'string' },
    'max-seconds': { type: 'string', default: '1200' },
    'no-embedded': { type: 'boolean', default: false },
    'no-nats': { type: 'boolean', default: false },
    role: { type: 'string' },
    bus: { type: 'string' },
    nats: { type: 'string' },
    json: { type: 'string' },
  },
});

function bounded(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number from ${min} to ${max}, not ${v}`);
  return n;
}

const topology = defaultTopology();
const REGIONS = topology.regions.map((r) => r.name);
const placement = new ConversationPlacement(topology);
const failoverAfterMs = topology.replication.failoverAfterMs;
const N = Math.floor(bounded('clients', values.clients, 6, 20_000) / 2) * 2;
const rounds = bounded('rounds', values.rounds, 1, 20);
const rate = bounded('rate', values.rate, 1, 5000);
const roomSize = bounded('room-size', values['room-size'], 2, 200);
const heartbeatMs = bounded('heartbeat-ms', values['heartbeat-ms'], 200, 60_000);
const killMs = values['kill-ms'] === undefined ? Math.max(failoverAfterMs, 2 * heartbeatMs) + 4000 : bounded('kill-ms', values['kill-ms'], 100, 600_000);
const baselineMs = bounded('baseline-ms', values['baseline-ms'], 500, 600_000);
const settleMs = bounded('settle-ms', values['settle-ms'], 0, 600_000);
const natsLinkMs = bounded('link-ms', values['link-ms'], 0, 1000);
const maxMs = bounded('max-seconds', values['max-seconds'], 10, 86_400) * 1000;
const lossRegions = values.regions === undefined ? REGIONS : values.regions.split(',').map((s) => s.trim());
for (const r of lossRegions) if (!REGIONS.includes(r)) throw new Error(`--regions: ${r} is not a region of ${REGIONS.join(', ')}`);
/** Traffic before the baseline window (interest crossing the links, first appends, buckets opened). */
const WARMUP_MS = 3000;
/** A send not acked within this is given up (and not counted as acked). */
const SEND_TIMEOUT_MS = killMs + 15_000;
const MAX_OUTSTANDING = 4;
/** Every ROOM_EVERY-th send of a client goes to its room, the others to its direct partner. */
const ROOM_EVERY = 4;
const CONNECT_BATCH = 100;
const GOAL_RESUME_MS = 5000;
const GOAL_LATENCY_RATIO = 2;
const GOAL_LAG_MS = 250;
const GOAL_LAG_RTT_MS = 100;
const GOAL_ACK_SLACK_MS = 2;

type BusKind = 'embedded' | 'nats';
type Durability = 'local' | 'replicated';

interface Ready {
  /** ws:// URL of each region's node. */
  readonly ws: Record<string, string>;
  /** http:// base URL of each region's node (/metrics). */
  readonly http: Record<string, string>;
}

type Command = { cmd: 'kill'; region: string } | { cmd: 'revive'; region: string } | { cmd: 'history'; via: string; conversations: string[] } | { cmd: 'takeovers' };

interface HistoryAnswer {
  /** Stored [seq, messageId] per conversation. */
  readonly logs: Record<string, [number, string][]>;
  /** Conversations that could not be read through `via`, with why. */
  readonly failed: Record<string, string>;
}

// ---- server role: every region of the default topology in one process ----------------------

async function serverRole(): Promise<void> {
  // Losing a region is noisy on purpose (bus lost, failover, copies behind): warnings off.
  setDefaultLogLevel('error');
  const bus: BusKind = values.bus === 'nats' ? 'nats' : 'embedded';
  const region = { node: { heartbeatMs } };
  const d = await startDeployment(topology, bus === 'nats' ? { bus, nats: values.nats ?? '', region } : { bus, region });
  process.on('message', (m: Command) => {
    void answer(d, m).then(
      (r) => process.send?.(r ?? { ok: true }),
      (err: unknown) => process.send?.({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.send?.({ ws: Object.fromEntries(REGIONS.map((r) => [r, d.wsUrl(r)])), http: { ...d.urls } } satisfies Ready);
  exitWithParent(() => d.close());
}

async function answer(d: Deployment, m: Command): Promise<unknown> {
  if (m.cmd === 'kill' || m.cmd === 'revive') {
    if (m.cmd === 'kill') d.network?.kill(m.region);
    else d.network?.revive(m.region);
    return { ok: true };
  }
  if (m.cmd === 'takeovers') {
    return REGIONS.flatMap((r) => {
      const msg = d.region(r).messaging as unknown as { takeovers?: () => readonly { home: string; owner: string; epoch: number }[] };
      return (msg.takeovers?.() ?? []).map((t) => `${t.home}→${t.owner} (epoch ${t.epoch}, seen in ${r})`);
    });
  }
  const messaging = d.region(m.via).messaging;
  const logs: Record<string, [number, string][]> = {};
  const failed: Record<string, string> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < m.conversations.length) {
      const conversation = m.conversations[next++]!;
      const got: [number, string][] = [];
      try {
        let after = 0;
        for (let page = 0; page < 1000; page++) {
          const p = await withTimeout(messaging.history(conversation, { after, limit: 1000 }), 15_000, `history of ${conversation}`);
          for (const x of p.messages) got.push([x.seq, x.messageId]);
          const last = p.messages[p.messages.length - 1]?.seq;
          if (last === undefined || last >= p.lastSeq) break;
          after = last;
        }
        logs[conversation] = got;
      } catch (err) {
        failed[conversation] = err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { logs, failed } satisfies HistoryAnswer;
}

// ---- the measuring side ------------------------------------------------------------------

/** What is alive right now, for cleanup on a signal or the watchdog. */
const live = { clusters: new Set<SuperCluster>(), roles: new Set<Role<unknown>>(), clients: new Set<MeridianClient>() };

async function cleanup(): Promise<void> {
  await Promise.all([...live.clients].map((c) => withTimeout(c.close(), 5000, 'client close').catch(() => undefined)));
  live.clients.clear();
  for (const r of live.roles) await r.stop().catch(() => undefined);
  live.roles.clear();
  for (const sc of live.clusters) await sc.close().catch(() => undefined);
  live.clusters.clear();
}

interface Body {
  /** performance.now() at the send. */
  readonly t: number;
  /** Sender's index. */
  readonly s: number;
  readonly d: Durability;
}

interface ClientState {
  readonly i: number;
  readonly user: string;
  /** The region it connected to first. */
  readonly region: string;
  readonly c: MeridianClient;
  outstanding: number;
  sent: number;
  readonly seen: Map<string, Set<number>>;
  /** messageIds handed to the application. */
  readonly got: Set<string>;
  migrateAt: number | undefined;
  movedAt: number | undefined;
  resumedAt: number | undefined;
}

interface AckRecord {
  readonly conversation: string;
  readonly seq: number;
  readonly messageId: string;
  readonly d: Durability;
  /** Sender's index. */
  readonly s: number;
  readonly sentAt: number;
  readonly ackAt: number;
}

interface LossResult {
  readonly bus: BusKind;
  readonly lost: string;
  readonly round: number;
  lostClients: number;
  /** kill → connected elsewhere, per client of the lost region (Infinity: never moved). */
  readonly resume: number[];
  readonly toMigrate: number[];
  readonly migrateToConnected: number[];
  readonly toResumed: number[];
  readonly acked: Record<Durability, number>;
  readonly lostAcks: Record<Durability, number>;
  readonly lostExamples: string[];
  unreadable: number;
  duplicates: number;
  /** Seqs of a conversation at which two messageIds were seen (delivered, acked or stored). */
  conflicts: number;
  /** …of which at the seq of a lost `local` ack (the new owner reused the seq). */
  conflictsAtLostLocal: number;
  readonly conflictExamples: string[];
  /** Deliveries of acked, stored messages that never reached a recipient (direct partner or room member). */
  undelivered: number;
  /** Deliveries expected. */
  deliveries: number;
  readonly undeliveredExamples: string[];
  recoveredFalse: number;
  /** Why resumes were not recovered, with the conversation's home: count. */
  readonly recoveredFalseWhy: Record<string, number>;
  lostRanges: number;
  /** Delivery latency (ms), survivors, conversations the loss does not touch: before and during. */
  readonly before: number[];
  readonly during: number[];
  /** Every survivor-to-survivor delivery sent during the loss. */
  readonly duringAll: number[];
  /** Baseline ack latency (ms) of sends homed in the sender's region, per home and durability. */
  readonly ackLatency: Record<string, Record<Durability, number[]>>;
  replicationLag: Map<number, number>;
  readonly sends: { started: number; acked: number; skipped: number; failed: Record<string, number> };
  readonly load: { before: number; during: number; end: number };
  durabilityMismatch: number;
  /** NATS: the JetStream meta leader around the kill. */
  metaLeader?: string;
  takeovers: string[];
  seconds: number;
  error?: string;
}

function newResult(bus: BusKind, lost: string, round: number): LossResult {
  return {
    bus,
    lost,
    round,
    lostClients: 0,
    resume: [],
    toMigrate: [],
    migrateToConnected: [],
    toResumed: [],
    acked: { local: 0, replicated: 0 },
    lostAcks: { local: 0, replicated: 0 },
    lostExamples: [],
    unreadable: 0,
    duplicates: 0,
    conflicts: 0,
    conflictsAtLostLocal: 0,
    conflictExamples: [],
    undelivered: 0,
    deliveries: 0,
    undeliveredExamples: [],
    recoveredFalse: 0,
    recoveredFalseWhy: {},
    lostRanges: 0,
    before: [],
    during: [],
    duringAll: [],
    ackLatency: Object.fromEntries(REGIONS.map((r) => [r, { local: [], replicated: [] }])),
    replicationLag: new Map(),
    sends: { started: 0, acked: 0, skipped: 0, failed: {} },
    load: { before: NaN, during: NaN, end: NaN },
    durabilityMismatch: 0,
    takeovers: [],
    seconds: NaN,
  };
}

const load1 = (): number => loadavg()[0] ?? NaN;
const errName = (err: unknown): string => {
  const e = err as { wireName?: unknown; name?: unknown } | null;
  return typeof e?.wireName === 'string' ? e.wireName : typeof e?.name === 'string' ? e.name : 'unknown';
};

/** Scrape every node's replication-lag histogram (summed). */
async function scrapeLag(http: Record<string, string>): Promise<Map<number, number>> {
  const parts = await Promise.all(
    REGIONS.map(async (r) => {
      const res = await fetch(`${http[r]}/metrics`, { signal: AbortSignal.timeout(5000) });
      return histogramBuckets(await res.text(), 'meridian_replication_lag_seconds');
    }),
  );
  return addBuckets(parts);
}

/** Does losing `lost` touch this conversation's sends of durability `d` by design? */
function touched(conversation: string, d: Durability, lost: string): boolean {
  if (placement.homeOf(conversation) === lost) return true;
  return d === 'replicated' && placement.replicasOf(conversation)[0] === lost;
}

/** The JetStream meta leader as a running region other than `not` reports it (/jsz). */
async function jetstreamMetaLeader(sc: SuperCluster, not: string): Promise<string | undefined> {
  for (const r of REGIONS) {
    if (r === not || !sc.isRunning(r)) continue;
    try {
      const j = (await (await fetch(`${sc.httpUrl(r)}/jsz`, { signal: AbortSignal.timeout(2000) })).json()) as { meta_cluster?: { leader?: string } };
      if (typeof j.meta_cluster?.leader === 'string' && j.meta_cluster.leader !== '') return j.meta_cluster.leader;
    } catch {
      // try the next region
    }
  }
  return undefined;
}

async function runLoss(bus: BusKind, lost: string, round: number): Promise<LossResult> {
  const res = newResult(bus, lost, round);
  const began = performance.now();
  const nonce = randomBytes(3).toString('hex');
  const states: ClientState[] = [];
  const acks: AckRecord[] = [];
  const idAt = new Map<string, Map<number, string>>();
  /** `conversation seq` keys with two messageIds. */
  const conflicted = new Set<string>();
  const t: { baseStart?: number; killAt?: number; backAt?: number } = {};
  let sc: SuperCluster | undefined;
  let server: Role<Ready> | undefined;
  const traffic = { stop: false };
  let trafficDone: Promise<void> = Promise.resolve();

  const noteId = (conversation: string, seq: number, id: string): void => {
    let m = idAt.get(conversation);
    if (!m) idAt.set(conversation, (m = new Map<number, string>()));
    const had = m.get(seq);
    if (had === undefined) m.set(seq, id);
    else if (had !== id && !conflicted.has(`${conversation} ${seq}`)) {
      conflicted.add(`${conversation} ${seq}`);
      if (res.conflictExamples.length < 5) res.conflictExamples.push(`${conversation} seq ${seq}: ${had} and ${id}`);
    }
  };
  const roomOf = (i: number): string => `rl-${nonce}-room-${Math.floor(i / roomSize)}`;
  const partnerOf = (i: number): number => (i % 2 === 0 ? i + 1 : i - 1);

  try {
    const args = ['--bus', bus, '--heartbeat-ms', String(heartbeatMs)];
    if (bus === 'nats') {
      sc = await startSuperCluster({ regions: REGIONS, latencyMs: natsLinkMs, jetstream: true });
      live.clusters.add(sc);
      const nats = sc;
      args.push('--nats', REGIONS.map((r) => `${r}=${nats.url(r)}`).join(','));
    }
    server = await forkRole<Ready>(self, 'server', args, { timeoutMs: 120_000 });
    live.roles.add(server);
    const { ws, http } = server.ready;

    // Clients: i in region i mod 3, the other regions as fallbacks (its own first).
    for (let i = 0; i < N; i++) {
      const region = REGIONS[i % REGIONS.length]!;
      const user = `rl-${nonce}-${i}`;
      const urls = [ws[region]!, ...REGIONS.filter((r) => r !== region).map((r) => ws[r]!)];
      const c = new MeridianClient({ url: urls, user });
      live.clients.add(c);
      const st: ClientState = { i, user, region, c, outstanding: 0, sent: 0, seen: new Map(), got: new Set(), migrateAt: undefined, movedAt: undefined, resumedAt: undefined };
      states.push(st);
      c.on('message', (m: Message) => {
        const now = performance.now();
        let seen = st.seen.get(m.conversation);
        if (!seen) st.seen.set(m.conversation, (seen = new Set()));
        if (seen.has(m.seq)) res.duplicates++;
        else seen.add(m.seq);
        st.got.add(m.messageId);
        noteId(m.conversation, m.seq, m.messageId);
        if (m.from === st.user) return;
        const b = m.body as Partial<Body> | null;
        if (b === null || typeof b !== 'object' || typeof b.t !== 'number' || typeof b.s !== 'number' || (b.d !== 'local' && b.d !== 'replicated')) return;
        const sender = states[b.s];
        if (sender === undefined || sender.region === lost || st.region === lost || t.baseStart === undefined || b.t < t.baseStart) return;
        const ms = now - b.t;
        const clean = !touched(m.conversation, b.d, lost);
        if (t.killAt === undefined || b.t < t.killAt) {
          if (clean) res.before.push(ms);
        } else if (t.backAt === undefined || b.t < t.backAt) {
          res.duringAll.push(ms);
          if (clean) res.during.push(ms);
        }
      });
      c.on('migrate', () => {
        if (t.killAt !== undefined && st.migrateAt === undefined) st.migrateAt = performance.now();
      });
      c.on('status', (s) => {
        if (s.type === 'connected' && t.killAt !== undefined && st.region === lost && st.movedAt === undefined && s.region !== lost) st.movedAt = performance.now();
      });
      c.on('resumed', (r) => {
        if (st.movedAt !== undefined && st.resumedAt === undefined) st.resumedAt = performance.now();
        if (!r.recovered) {
          res.recoveredFalse++;
          const home = placement.homeOf(r.conversation);
          const why = `${r.reason ?? 'no reason'} (home ${home === lost ? 'the lost region' : home}${t.killAt === undefined ? ', before the kill' : ''})`;
          res.recoveredFalseWhy[why] = (res.recoveredFalseWhy[why] ?? 0) + 1;
        }
      });
      c.on('lost', () => res.lostRanges++);
      c.on('error', () => undefined);
      if (states.length % CONNECT_BATCH === 0 || i === N - 1) {
        const batch = states.slice(-(states.length % CONNECT_BATCH || CONNECT_BATCH));
        await withTimeout(Promise.all(batch.map((x) => x.c.connected())), 60_000, `clients ${batch[0]?.i}–${i} not connected`);
      }
    }
    for (let i = 0; i < N; i += CONNECT_BATCH) {
      await withTimeout(Promise.all(states.slice(i, i + CONNECT_BATCH).map((x) => x.c.join(roomOf(x.i)))), 60_000, 'room joins');
    }
    res.lostClients = states.filter((s) => s.region === lost).length;
    console.log(`  ${bus}, round ${round + 1}, losing ${lost}: ${N} clients connected and in ${Math.ceil(N / roomSize)} rooms (${((performance.now() - began) / 1000).toFixed(1)} s)`);

    // Every connection's interest (user and room subjects) crosses the links before the first send.
    const maxLinkMs = bus === 'nats' ? natsLinkMs : Math.max(...REGIONS.flatMap((a) => REGIONS.map((b) => (a === b ? 0 : linkLatencyMs(topology, a, b)))));
    await sleep(2 * maxLinkMs + 1000);

    // Steady traffic, bounded in rate, count and time.
    const send = (st: ClientState): void => {
      const k = st.sent++;
      const room = k % ROOM_EVERY === ROOM_EVERY - 1;
      const to = room ? { room: roomOf(st.i) } : { user: `rl-${nonce}-${partnerOf(st.i)}` };
      const d: Durability = Math.floor(st.i / (room ? roomSize : 2)) % 2 === 0 ? 'replicated' : 'local';
      const sentAt = performance.now();
      const body: Body = { t: sentAt, s: st.i, d };
      st.outstanding++;
      res.sends.started++;
      st.c
        .send(to, { ...body }, { durability: d, signal: AbortSignal.timeout(SEND_TIMEOUT_MS) })
        .then(
          (ack: SendAck) => {
            res.sends.acked++;
            acks.push({ conversation: ack.conversation, seq: ack.seq, messageId: ack.messageId, d, s: st.i, sentAt, ackAt: performance.now() });
            noteId(ack.conversation, ack.seq, ack.messageId);
            if (ack.durability !== undefined && ack.durability !== d) res.durabilityMismatch++;
          },
          (err: unknown) => {
            const name = errName(err);
            res.sends.failed[name] = (res.sends.failed[name] ?? 0) + 1;
          },
        )
        .finally(() => st.outstanding--);
    };
    const plannedMs = WARMUP_MS + baselineMs + killMs + settleMs + 60_000;
    const maxSends = Math.ceil((rate * plannedMs) / 1000);
    trafficDone = (async () => {
      const t0 = performance.now();
      const end = t0 + plannedMs;
      let slots = 0;
      let rr = 0;
      while (!traffic.stop && slots < maxSends && performance.now() < end) {
        const due = Math.min(maxSends, Math.floor(((performance.now() - t0) * rate) / 1000));
        // At most a second's worth at once: a stalled loop skips slots rather than bursting.
        const n = Math.min(due - slots, Math.ceil(rate));
        res.sends.skipped += due - slots - n;
        slots = due;
        for (let k = 0; k < n; k++) {
          let st: ClientState | undefined;
          for (let tries = 0; tries < N && st === undefined; tries++) {
            const x = states[rr++ % N]!;
            if (x.outstanding < MAX_OUTSTANDING && !x.c.isClosed) st = x;
          }
          if (st === undefined) res.sends.skipped++;
          else send(st);
        }
        await sleep(20);
      }
    })();

    await sleep(WARMUP_MS);
    const lag0 = await scrapeLag(http);
    t.baseStart = performance.now();
    await sleep(baselineMs);
    const lag1 = await scrapeLag(http);
    res.replicationLag = bucketsDelta(lag0, lag1);
    res.load.before = load1();

    // The loss.
    const metaLeader = sc === undefined ? undefined : await jetstreamMetaLeader(sc, lost);
    t.killAt = performance.now();
    if (bus === 'embedded') await server.ask({ cmd: 'kill', region: lost } satisfies Command, 10_000);
    else await sc!.stop(lost, { kill: true });
    if (sc) {
      // NATS: where the JetStream meta leader was, and when the survivors elected another.
      const nats = sc;
      const before = metaLeader;
      for (let k = 0; performance.now() < t.killAt + killMs - 600 && k < 10_000; k++) {
        const now = await jetstreamMetaLeader(nats, lost);
        if (now !== undefined && now !== lost) {
          res.metaLeader = `${before ?? '?'} before the kill; ${now} ${before === lost ? `elected ${fmt(performance.now() - t.killAt)} ms after it` : 'during it'}`;
          break;
        }
        res.metaLeader = `${before ?? '?'} before the kill; still ${now ?? '?'} (as the survivors see it) ${fmt(performance.now() - t.killAt)} ms into it`;
        await sleep(500);
      }
    }
    await sleep(Math.max(0, t.killAt + killMs - performance.now()));
    res.load.during = load1();
    t.backAt = performance.now();
    if (bus === 'embedded') await server.ask({ cmd: 'revive', region: lost } satisfies Command, 10_000);
    else await sc!.start(lost);
    const killAt = t.killAt;
    const revivedMs = performance.now() - t.backAt;
    await sleep(settleMs);
    for (const s of states) {
      if (s.region !== lost) continue;
      res.resume.push(s.movedAt === undefined ? Infinity : s.movedAt - killAt);
      if (s.migrateAt !== undefined) res.toMigrate.push(s.migrateAt - killAt);
      if (s.migrateAt !== undefined && s.movedAt !== undefined) res.migrateToConnected.push(s.movedAt - s.migrateAt);
      if (s.resumedAt !== undefined) res.toResumed.push(s.resumedAt - killAt);
    }
    const moved = res.resume.filter(Number.isFinite).length;
    console.log(`  ${lost} back after ${fmt(t.backAt - killAt)} ms (revived in ${fmt(revivedMs)} ms); ${moved} of its ${res.lostClients} clients moved by the end of the settle`);

    traffic.stop = true;
    await trafficDone;
    const drainEnd = performance.now() + SEND_TIMEOUT_MS + 2000;
    while (states.some((s) => s.outstanding > 0) && performance.now() < drainEnd) await sleep(100);
    await sleep(1500); // the last deliveries
    res.load.end = load1();

    // Every acked message against the history, read through the region that was lost.
    const byConversation = new Map<string, AckRecord[]>();
    for (const a of acks) {
      const list = byConversation.get(a.conversation) ?? [];
      list.push(a);
      byConversation.set(a.conversation, list);
    }
    const conversations = [...byConversation.keys()];
    const logs = new Map<string, Map<number, string>>();
    let todo = conversations;
    for (const via of [lost, ...REGIONS.filter((r) => r !== lost)]) {
      if (todo.length === 0) break;
      const a = await server.ask<HistoryAnswer | { error: string }>({ cmd: 'history', via, conversations: todo } satisfies Command, 300_000);
      if ('error' in a) throw new Error(`history through ${via}: ${a.error}`);
      for (const [c, entries] of Object.entries(a.logs)) logs.set(c, new Map<number, string>(entries));
      todo = Object.keys(a.failed);
    }
    res.unreadable = todo.length;
    for (const [conversation, list] of byConversation) {
      const log = logs.get(conversation);
      if (!log) continue;
      for (const [seq, id] of log) noteId(conversation, seq, id);
      for (const a of list) {
        res.acked[a.d]++;
        if (log.get(a.seq) !== a.messageId) {
          res.lostAcks[a.d]++;
          if (res.lostExamples.length < 5) res.lostExamples.push(`${a.d} ${conversation} seq ${a.seq} ${a.messageId}: stored ${log.get(a.seq) ?? 'nothing'} there`);
        }
      }
    }
    for (const c of todo) for (const a of byConversation.get(c) ?? []) res.acked[a.d]++;
    const lostLocalAt = new Set<string>();
    for (const [conversation, list] of byConversation) {
      const log = logs.get(conversation);
      for (const a of list) if (a.d === 'local' && log !== undefined && log.get(a.seq) !== a.messageId) lostLocalAt.add(`${conversation} ${a.seq}`);
    }
    res.conflicts = conflicted.size;
    res.conflictsAtLostLocal = [...conflicted].filter((k) => lostLocalAt.has(k)).length;

    // Every stored acked message reached its recipients (late ones get up to 10 s more).
    const recipientsOf = (a: AckRecord): number[] => {
      if (!a.conversation.startsWith('room:')) return [partnerOf(a.s)];
      const first = Math.floor(a.s / roomSize) * roomSize;
      return Array.from({ length: Math.min(roomSize, N - first) }, (_, k) => first + k).filter((i) => i !== a.s);
    };
    const stored = acks.filter((a) => logs.get(a.conversation)?.get(a.seq) === a.messageId);
    const undelivered = (): number => sum(stored.map((a) => recipientsOf(a).filter((i) => !states[i]!.got.has(a.messageId)).length));
    const deliveredBy = performance.now() + 10_000;
    while (undelivered() > 0 && performance.now() < deliveredBy) await sleep(250);
    res.undelivered = undelivered();
    for (const a of stored) {
      for (const i of recipientsOf(a)) {
        const r = states[i]!;
        if (r.got.has(a.messageId) || res.undeliveredExamples.length >= 5) continue;
        const other = idAt.get(a.conversation)?.get(a.seq);
        const why = r.seen.get(a.conversation)?.has(a.seq) === true ? `it had seq ${a.seq} already${other !== a.messageId ? ' (another messageId)' : ''}` : `seq ${a.seq} never reached it`;
        res.undeliveredExamples.push(`${a.d} ${a.conversation} seq ${a.seq} (sent ${fmt(a.sentAt - killAt)} ms after the kill) to client ${i} of ${r.region} (status ${r.c.status.type}): ${why}`);
      }
    }
    res.deliveries = sum(stored.map((a) => recipientsOf(a).length));

    // Ack latency in the baseline window, homes in the sender's region.
    for (const a of acks) {
      if (a.sentAt < t.baseStart || a.sentAt >= killAt) continue;
      const home = placement.homeOf(a.conversation);
      if (home !== states[a.s]?.region) continue;
      res.ackLatency[home]?.[a.d].push(a.ackAt - a.sentAt);
    }
    res.takeovers = (await server.ask<string[]>({ cmd: 'takeovers' } satisfies Command, 10_000).catch(() => [])) ?? [];
  } catch (err) {
    res.error = err instanceof Error ? err.message : String(err);
  } finally {
    traffic.stop = true;
    await trafficDone.catch(() => undefined);
    await Promise.all(states.map((s) => withTimeout(s.c.close(), 10_000, 'client close').catch(() => undefined)));
    for (const s of states) live.clients.delete(s.c);
    if (server) {
      await server.stop();
      live.roles.delete(server);
    }
    if (sc) {
      await sc.close().catch(() => undefined);
      live.clusters.delete(sc);
    }
    res.seconds = (performance.now() - began) / 1000;
  }
  return res;
}

// ---- the report --------------------------------------------------------------------------

const median = (xs: number[]): number => percentile([...xs].filter((x) => !Number.isNaN(x)), 0.5);
const p99 = (xs: number[]): number => percentile([...xs], 0.99);
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const ms = (v: number): string => (v === Infinity ? '∞' : fmt(v));
const ratio = (a: number, b: number): number => a / b;

/** The replica region of conversations homed in `home` (no placement rules: it depends on the home only). */
function replicaOf(home: string): string | undefined {
  for (let k = 0; k < 10_000; k++) {
    const c = dmConversation('rl-probe', `p${k}`);
    if (placement.homeOf(c) === home) return placement.replicasOf(c)[0];
  }
  return undefined;
}

/** The RTT from `home` to its nearest replica on this bus (ms). */
function replicaRtt(bus: BusKind, home: string): number {
  const replica = replicaOf(home);
  if (replica === undefined) return NaN;
  return 2 * (bus === 'nats' ? natsLinkMs : linkLatencyMs(topology, home, replica));
}

interface Row {
  readonly metric: string;
  readonly goal: string;
  readonly measured: string;
  readonly verdict: 'met' | 'MISSED' | 'reported' | 'not measured';
  readonly load: string;
}

function verdictOf(met: boolean | null, measured: boolean): Row['verdict'] {
  if (!measured) return 'not measured';
  return met === null ? 'reported' : met ? 'met' : 'MISSED';
}

function busReport(bus: BusKind, results: LossResult[]): { rows: Row[]; checks: Check[] } {
  const ok = results.filter((r) => r.error === undefined);
  const rows: Row[] = [];
  const checks: Check[] = [];
  const add = (metric: string, goal: string, measured: string, met: boolean | null, load: number, hasValue: boolean): void => {
    const verdict = verdictOf(met, hasValue);
    rows.push({ metric: `${bus}: ${metric}`, goal, measured, verdict, load: fmt(load, 2) });
    checks.push({ bench: BENCH, what: `${bus}: ${metric}`, measured: `${measured} (load ${fmt(load, 2)})`, target: goal, met: hasValue ? met : null });
  };
  const byRegion = (f: (r: LossResult[]) => string): string => lossRegions.map((l) => `${l} ${f(ok.filter((r) => r.lost === l))}`).join(', ');
  /** Median over rounds of a per-loss figure. */
  const overRounds = (rs: LossResult[], f: (r: LossResult) => number): number => median(rs.map(f));
  const loadOf = (k: keyof LossResult['load']): number => median(ok.map((r) => r.load[k]));

  // 1. Resume elsewhere.
  const resume = ok.flatMap((r) => r.resume);
  const rs = summarize([...resume]);
  const unmoved = resume.filter((x) => !Number.isFinite(x)).length;
  const toMigrate = summarize(ok.flatMap((r) => r.toMigrate));
  const mig = summarize(ok.flatMap((r) => r.migrateToConnected));
  add(
    'kill → every client of the lost region connected elsewhere, p50/p99/max',
    `p99 ≤ ${fmt(GOAL_RESUME_MS)} ms`,
    `${ms(rs.p50)} / ${ms(rs.p99)} / ${ms(rs.max)} ms over ${rs.n} clients${unmoved > 0 ? ` (${unmoved} never moved)` : ''}; p99 per region ${byRegion((x) => ms(overRounds(x, (r) => p99(r.resume))))}; kill → migrate p50 ${ms(toMigrate.p50)}, migrate → connected p50/p99 ${ms(mig.p50)} / ${ms(mig.p99)} ms`,
    rs.n > 0 ? rs.p99 <= GOAL_RESUME_MS : null,
    loadOf('during'),
    rs.n > 0,
  );

  // 2. Acked messages lost.
  const acked = (d: Durability): number => sum(ok.map((r) => r.acked[d]));
  const lostN = (d: Durability): number => sum(ok.map((r) => r.lostAcks[d]));
  const unreadable = sum(ok.map((r) => r.unreadable));
  add(
    'acked `replicated` messages lost',
    '0',
    `${fmt(lostN('replicated'))} of ${fmt(acked('replicated'))}; per region ${byRegion((x) => fmt(sum(x.map((r) => r.lostAcks.replicated))))}${unreadable > 0 ? `; ${unreadable} conversation(s) unreadable` : ''}`,
    ok.length > 0 ? lostN('replicated') === 0 && unreadable === 0 : null,
    loadOf('end'),
    ok.length > 0,
  );
  add(
    'acked `local` messages lost',
    'reported (no goal)',
    `${fmt(lostN('local'))} of ${fmt(acked('local'))}; per region ${byRegion((x) => fmt(sum(x.map((r) => r.lostAcks.local))))}`,
    null,
    loadOf('end'),
    ok.length > 0,
  );

  // 3. Duplicates.
  const dupes = sum(ok.map((r) => r.duplicates));
  const conflicts = sum(ok.map((r) => r.conflicts));
  add(
    'duplicates surfaced (seq delivered twice to a client; two messageIds at one seq)',
    '0',
    `${fmt(dupes)} repeated deliveries, ${fmt(conflicts)} seqs with two messageIds (${fmt(sum(ok.map((r) => r.conflictsAtLostLocal)))} at a lost \`local\` ack's seq); per region ${byRegion((x) => fmt(sum(x.map((r) => r.duplicates + r.conflicts))))}`,
    ok.length > 0 ? dupes + conflicts === 0 : null,
    loadOf('end'),
    ok.length > 0,
  );

  const undelivered = sum(ok.map((r) => r.undelivered));
  add(
    'deliveries of stored acked messages that never reached a recipient',
    'reported (no goal)',
    `${fmt(undelivered)} of ${fmt(sum(ok.map((r) => r.deliveries)))}; per region ${byRegion((x) => fmt(sum(x.map((r) => r.undelivered))))}`,
    null,
    loadOf('end'),
    ok.length > 0,
  );

  // 4. Survivors' delivery latency.
  const before = p99(ok.flatMap((r) => r.before));
  const during = p99(ok.flatMap((r) => r.during));
  const duringAll = p99(ok.flatMap((r) => r.duringAll));
  const lr = ratio(during, before);
  add(
    'survivors’ delivery p99 during the loss vs before (conversations the loss does not touch)',
    `≤ ${GOAL_LATENCY_RATIO}×`,
    `${fmt(lr, 2)}× (${fmt(during, 1)} vs ${fmt(before, 1)} ms; n ${ok.flatMap((r) => r.during).length} / ${ok.flatMap((r) => r.before).length}); per region ${byRegion((x) => `${fmt(overRounds(x, (r) => p99(r.during) / p99(r.before)), 2)}×`)}; all survivor traffic during: p99 ${fmt(duringAll, 1)} ms`,
    Number.isFinite(lr) ? lr <= GOAL_LATENCY_RATIO : null,
    loadOf('during'),
    Number.isFinite(lr),
  );

  // 5. Replication lag.
  const lag = bucketQuantile(addBuckets(ok.map((r) => r.replicationLag)), 0.99);
  const rtts = [...new Set(REGIONS.map((h) => replicaRtt(bus, h)))].sort((a, b) => a - b);
  const lagGoalApplies = bus === 'nats' && natsLinkMs * 2 === GOAL_LAG_RTT_MS;
  add(
    `replication lag p99 (/metrics, baseline; replica RTT ${rtts.map((x) => fmt(x)).join('/')} ms)`,
    lagGoalApplies ? `≤ ${GOAL_LAG_MS} ms at ${GOAL_LAG_RTT_MS} ms RTT` : `reported (goal ≤ ${GOAL_LAG_MS} ms is at ${GOAL_LAG_RTT_MS} ms RTT)`,
    `≤ ${ms(lag.upper * 1000)} ms (bucket; estimate ${fmt(lag.estimate * 1000)} ms) over ${fmt(lag.count)} copies; per region ${byRegion((x) => `≤ ${ms(bucketQuantile(addBuckets(x.map((r) => r.replicationLag)), 0.99).upper * 1000)}`)}`,
    lagGoalApplies && lag.count > 0 ? lag.upper * 1000 <= GOAL_LAG_MS : null,
    loadOf('before'),
    lag.count > 0,
  );

  // 6. Ack latency, replicated vs local, homes in the sender's region.
  const perHome = REGIONS.map((h) => {
    const l = median(ok.flatMap((r) => r.ackLatency[h]?.local ?? []));
    const rep = median(ok.flatMap((r) => r.ackLatency[h]?.replicated ?? []));
    const allowed = replicaRtt(bus, h) + GOAL_ACK_SLACK_MS;
    return { h, l, rep, allowed, n: ok.flatMap((r) => [...(r.ackLatency[h]?.local ?? []), ...(r.ackLatency[h]?.replicated ?? [])]).length, margin: rep - l - allowed };
  });
  const measuredHomes = perHome.filter((x) => Number.isFinite(x.margin));
  add(
    'ack median, `replicated` vs `local`, home = sender’s region',
    `replicated ≤ local + replica RTT + ${GOAL_ACK_SLACK_MS} ms`,
    perHome.map((x) => `${x.h}: ${fmt(x.rep, 1)} vs ${fmt(x.l, 1)} ms (+${fmt(x.rep - x.l, 1)}, allowed +${fmt(x.allowed, 1)}; n ${x.n})`).join('; '),
    measuredHomes.length > 0 ? measuredHomes.every((x) => x.margin <= 0) : null,
    loadOf('before'),
    measuredHomes.length > 0,
  );
  return { rows, checks };
}

function lossTables(results: LossResult[]): string {
  const a = table(
    ['bus', 'round', 'lost', 'clients', 'moved', 'kill→conn p50', 'p99', 'max', 'kill→migrate p50', 'migrate→conn p99', 'kill→resumed p99', 'recovered:false', 'lost ranges', 'load'],
    results.map((r) => {
      const s = summarize([...r.resume]);
      return [r.bus, String(r.round + 1), r.lost, fmt(r.lostClients), fmt(r.resume.filter(Number.isFinite).length), ms(s.p50), ms(s.p99), ms(s.max), ms(median(r.toMigrate)), ms(p99(r.migrateToConnected)), ms(p99(r.toResumed)), fmt(r.recoveredFalse), fmt(r.lostRanges), fmt(r.load.during, 2)];
    }),
  );
  const b = table(
    ['bus', 'round', 'lost', 'sends', 'acked', 'failed', 'skipped', 'repl acked/lost', 'local acked/lost', 'dupes', 'conflicts', 'undelivered', 'p99 before ms', 'p99 during', 'during all', 'lag p50/p99 ≤ ms', 's'],
    results.map((r) => {
      const failed = sum(Object.values(r.sends.failed));
      return [
        r.bus,
        String(r.round + 1),
        r.lost,
        fmt(r.sends.started),
        fmt(r.sends.acked),
        fmt(failed),
        fmt(r.sends.skipped),
        `${fmt(r.acked.replicated)}/${fmt(r.lostAcks.replicated)}`,
        `${fmt(r.acked.local)}/${fmt(r.lostAcks.local)}`,
        fmt(r.duplicates),
        fmt(r.conflicts),
        fmt(r.undelivered),
        fmt(p99(r.before), 1),
        fmt(p99(r.during), 1),
        fmt(p99(r.duringAll), 1),
        `${ms(bucketQuantile(r.replicationLag, 0.5).upper * 1000)}/${ms(bucketQuantile(r.replicationLag, 0.99).upper * 1000)}`,
        fmt(r.seconds),
      ];
    }),
  );
  return `${a}\n\n${b}`;
}

async function main(): Promise<void> {
  console.log(`machine: ${machine()}`);
  console.log(`${N} clients, ${rate} sends/s, rooms of ${roomSize}; baseline ${baselineMs} ms, kill ${killMs} ms (failoverAfterMs ${failoverAfterMs}, node heartbeat ${heartbeatMs} ms), settle ${settleMs} ms; ${rounds} round(s) losing ${lossRegions.join(', ')}`);
  const began = performance.now();
  const buses: BusKind[] = [];
  const skipped: [BusKind, string][] = [];
  if (values['no-embedded']) skipped.push(['embedded', '--no-embedded']);
  else buses.push('embedded');
  if (values['no-nats']) skipped.push(['nats', '--no-nats']);
  else if (findNatsServer() === null) skipped.push(['nats', 'nats-server not found (apt-get install nats-server; /usr/sbin on PATH)']);
  else buses.push('nats');

  const results = new Map<BusKind, LossResult[]>(buses.map((b) => [b, []]));
  const notes: string[] = [];
  let notStarted = 0;
  for (const bus of buses) {
    for (let round = 0; round < rounds; round++) {
      for (const lost of lossRegions) {
        if (performance.now() - began > maxMs) {
          notStarted++;
          continue;
        }
        const r = await runLoss(bus, lost, round);
        results.get(bus)!.push(r);
        if (r.error !== undefined) notes.push(`${bus}, round ${round + 1}, losing ${lost}: failed: ${r.error}`);
        if (r.metaLeader !== undefined) notes.push(`${bus}, round ${round + 1}, losing ${lost}: JetStream meta leader ${r.metaLeader}`);
        if (r.takeovers.length > 0) notes.push(`${bus}, round ${round + 1}, losing ${lost}: takeovers ${[...new Set(r.takeovers.map((x) => x.replace(/, seen in .*\)$/, ')')))].join('; ')}`);
        for (const e of r.lostExamples) notes.push(`${bus}, losing ${lost}: acked and lost: ${e}`);
        for (const e of r.conflictExamples) notes.push(`${bus}, losing ${lost}: two messageIds: ${e}`);
        const why = Object.entries(r.recoveredFalseWhy);
        if (why.length > 0) notes.push(`${bus}, losing ${lost}: recovered:false resumes: ${why.map(([k, v]) => `${v} × ${k}`).join(', ')}`);
        for (const e of r.undeliveredExamples) notes.push(`${bus}, losing ${lost}: not delivered: ${e}`);
        const failed = Object.entries(r.sends.failed);
        if (failed.length > 0) notes.push(`${bus}, losing ${lost}: sends not acked by error: ${failed.map(([k, v]) => `${k} ${v}`).join(', ')}`);
        if (r.durabilityMismatch > 0) notes.push(`${bus}, losing ${lost}: ${r.durabilityMismatch} acks with another durability than asked`);
      }
    }
  }
  if (notStarted > 0) notes.push(`${notStarted} loss(es) not started: --max-seconds ${maxMs / 1000} reached`);

  const rows: Row[] = [];
  const checks: Check[] = [];
  for (const bus of buses) {
    const r = busReport(bus, results.get(bus) ?? []);
    rows.push(...r.rows);
    checks.push(...r.checks);
  }
  for (const [bus, why] of skipped) checks.push(missing(BENCH, `${bus}: region loss`, 'issue 11', why));
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const md = ['| metric | goal | measured | verdict | load (1 min) |', '|---|---|---|---|---|', ...rows.map((r) => `| ${[r.metric, r.goal, r.measured, r.verdict === 'MISSED' ? '**missed**' : r.verdict, r.load].map(cell).join(' | ')} |`)];
  const all = [...results.values()].flat();
  const detail = [
    `${N} clients over ${REGIONS.join(', ')}; ${rate} sends/s (¾ direct, ¼ room of ${roomSize}; half the pairs and rooms \`replicated\`, half \`local\`); baseline ${fmt(baselineMs)} ms, kill ${fmt(killMs)} ms, settle ${fmt(settleMs)} ms; node heartbeat ${fmt(heartbeatMs)} ms (clients moved 2 heartbeats after the bus is lost), failoverAfterMs ${fmt(failoverAfterMs)}; NATS links ${natsLinkMs} ms one way; ${fmt((performance.now() - began) / 1000)} s in all`,
    '',
    ...md,
    '',
    'per loss (ms; kill→conn: kill until the client is connected in another region; ∞: never moved)',
    lossTables(all),
  ].join('\n');
  emit({ bench: BENCH, checks, detail, notes: [...notes, ...skipped.map(([b, why]) => `${b}: skipped: ${why}`)] }, values.json);
}

if (values.role === 'server') await serverRole();
else {
  // Nothing outlives the bench: a signal or the watchdog closes clients, the server role and every nats-server.
  const bail = (code: number): void => void cleanup().finally(() => process.exit(code));
  process.once('SIGINT', () => bail(130));
  process.once('SIGTERM', () => bail(143));
  // Past --max-seconds no loss starts; the one running gets 5 minutes more (run.ts stops the bench at 30).
  const watchdog = setTimeout(() => {
    console.error(`region-loss: still running ${maxMs / 1000 + 300} s after the start: stopping`);
    bail(3);
  }, maxMs + 300_000);
  watchdog.unref();
  try {
    await main();
  } finally {
    await cleanup();
  }
}
