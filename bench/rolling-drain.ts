/**
 * Rolling drain: `meridian up` (a child process: every region and the edge, embedded bus) with
 * `--clients` Meridian clients spread over its regions, each sending a direct message to a
 * partner in another region every `--interval-ms` and watching the partner's presence. Each
 * region in turn is drained through the edge (`POST /v1/admin/regions/NAME/drain`): its node
 * sends `migrate`, the clients move make-before-break, the node restarts and the region is
 * `ready` again before the next one. Reported:
 *   - reconnect time: from a client's `migrate` to its `connected` on the new region (p50/p99);
 *   - `recovered: false` resumes, duplicates surfaced to the application (a seq handed over
 *     twice), presence flaps (a partner seen `offline` while it only moved), acknowledged messages that
 *     never arrived — each target 0.
 *
 *   npx tsx bench/rolling-drain.ts [--clients 2000] [--interval-ms 2000] [--json out.json]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MeridianClient } from '../src/client/node.js';
import type { Message } from '../src/client/node.js';
import { emit, maxCheck } from './lib/report.js';
import type { Check } from './lib/report.js';
import { fmt, summarize, table } from './lib/stats.js';

const BENCH = 'rolling drain';
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '2000' },
    'interval-ms': { type: 'string', default: '2000' },
    json: { type: 'string' },
  },
});
const N = Math.max(6, Number(values.clients) - (Number(values.clients) % 2));
const intervalMs = Number(values['interval-ms']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface UpInfo {
  regions: Record<string, string>;
  edge: string;
  adminToken: string;
}

const entry = fileURLToPath(new URL('../src/cli/entry.ts', import.meta.url));
const child = spawn(process.execPath, ['--import', 'tsx', entry, 'up', '--port-base', '0', '--json', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
let out = '';
child.stdout.on('data', (b: Buffer) => (out += b.toString()));

/** Per client: what it received, its moves, its flaps. */
interface Track {
  readonly seqs: Map<string, number[]>;
  /** Bodies' `k` received, per sender. */
  readonly from: Map<string, Set<number>>;
  migrateAt: number | undefined;
  readonly moves: number[];
  flaps: number;
  recoveredFalse: number;
  lost: number;
}

const clients: MeridianClient[] = [];
try {
  await until(() => out.includes('\n') || child.exitCode !== null, 'meridian up', 60_000);
  const info = JSON.parse(out.trim().split('\n')[0]!) as UpInfo;
  const names = Object.keys(info.regions);
  const ws = (r: string): string => `${info.regions[r]!.replace(/^http/, 'ws')}/ws`;
  // Partner: i ± N/2, moved by one if that lands in the same region.
  const half = N / 2;
  const shift = half % names.length === 0 ? 1 : 0;
  const partnerOf = (i: number): number => (i < half ? i + half + shift : i - half - shift + N) % N;
  const tracks: Track[] = [];
  for (let i = 0; i < N; i++) {
    const c = new MeridianClient({ url: ws(names[i % names.length]!), user: `rd-${i}` });
    const t: Track = { seqs: new Map(), from: new Map(), migrateAt: undefined, moves: [], flaps: 0, recoveredFalse: 0, lost: 0 };
    c.on('message', (m: Message) => {
      const list = t.seqs.get(m.conversation) ?? [];
      list.push(m.seq);
      t.seqs.set(m.conversation, list);
      const got = t.from.get(m.from) ?? new Set<number>();
      got.add((m.body as { k: number }).k);
      t.from.set(m.from, got);
    });
    c.on('migrate', () => (t.migrateAt ??= performance.now()));
    c.on('status', (s) => {
      if (s.type === 'connected' && t.migrateAt !== undefined) {
        t.moves.push(performance.now() - t.migrateAt);
        t.migrateAt = undefined;
      }
    });
    c.on('presence_event', (e) => {
      // The partner seen going offline although it only moved (its `online` after that is the same flap).
      if (e.user === `rd-${partnerOf(i)}` && e.event === 'offline') t.flaps += 1;
    });
    c.on('resumed', (r) => {
      if (!r.recovered) t.recoveredFalse += 1;
    });
    c.on('lost', () => (t.lost += 1));
    c.on('error', () => undefined);
    clients.push(c);
    tracks.push(t);
    if (i % 100 === 99) await Promise.all(clients.slice(-100).map((x) => x.connected()));
  }
  await Promise.all(clients.map((c) => c.connected()));
  for (let i = 0; i < N; i += 100) await Promise.all(clients.slice(i, i + 100).map((c, j) => c.subscribePresence({ user: `rd-${partnerOf(i + j)}` })));
  console.log(`${N} clients connected over ${names.join(', ')}`);

  let stop = false;
  const acked: number[][] = clients.map(() => []);
  const senders = clients.map(async (c, i) => {
    await sleep(Math.floor((i / N) * intervalMs));
    for (let k = 0; !stop; k++) {
      try {
        await c.send({ user: `rd-${partnerOf(i)}` }, { k });
        acked[i]!.push(k);
      } catch {
        // counted below as not delivered (never acked)
      }
      await sleep(intervalMs);
    }
  });

  const drainMs: Record<string, number> = {};
  for (const region of names) {
    const t0 = performance.now();
    const res = await fetch(`${info.edge}/v1/admin/regions/${region}/drain`, { method: 'POST', headers: { authorization: `Bearer ${info.adminToken}` } });
    if (res.status !== 202) throw new Error(`drain ${region}: ${res.status} ${await res.text()}`);
    let sawDraining = false;
    await until(
      async () => {
        const body = (await (await fetch(`${info.edge}/v1/regions`)).json()) as { regions: { name: string; state: string }[] };
        const s = body.regions.find((r) => r.name === region)?.state;
        if (s === 'draining') sawDraining = true;
        return sawDraining && s === 'ready';
      },
      `${region} ready again`,
      120_000,
    );
    drainMs[region] = performance.now() - t0;
    console.log(`${region} drained and back in ${fmt(drainMs[region])} ms`);
    await sleep(1000);
  }
  stop = true;
  await Promise.all(senders);
  const missing = (): number => {
    let n = 0;
    for (let i = 0; i < N; i++) {
      const got = tracks[partnerOf(i)]!.from.get(`rd-${i}`) ?? new Set<number>();
      for (const k of acked[i]!) if (!got.has(k)) n += 1;
    }
    return n;
  };
  // The last sends' deliveries (and any retransmit) get up to 15 s: late is not lost.
  await until(() => missing() === 0, 'every acknowledged message delivered', 15_000).catch(() => undefined);
  const missingMsgs = missing();
  if (missingMsgs > 0) {
    for (let i = 0; i < N; i++) {
      const got = tracks[partnerOf(i)]!.from.get(`rd-${i}`) ?? new Set<number>();
      const gone = acked[i]!.filter((k) => !got.has(k));
      if (gone.length > 0) console.log(`rd-${i} → rd-${partnerOf(i)}: not delivered k=${gone.join(',')} (of ${acked[i]!.length}); receiver status ${clients[partnerOf(i)]!.status.type}`);
    }
  }
  let duplicates = 0;
  for (const t of tracks) for (const list of t.seqs.values()) duplicates += list.length - new Set(list).size;
  const moves = tracks.flatMap((t) => t.moves);
  const s = summarize(moves);
  const recoveredFalse = tracks.reduce((n, t) => n + t.recoveredFalse, 0);
  const flaps = tracks.reduce((n, t) => n + t.flaps, 0);
  const lost = tracks.reduce((n, t) => n + t.lost, 0);
  const sent = acked.reduce((n, a) => n + a.length, 0);
  const detail = table(
    ['clients', 'moves', 'reconnect p50 ms', 'p99 ms', 'max ms', 'recovered:false', 'duplicates', 'presence flaps', 'acked', 'not delivered', 'lost ranges'],
    [[fmt(N), fmt(s.n), fmt(s.p50), fmt(s.p99), fmt(s.max), fmt(recoveredFalse), fmt(duplicates), fmt(flaps), fmt(sent), fmt(missingMsgs), fmt(lost)]],
  );
  const checks: Check[] = [
    maxCheck(BENCH, 'recovered:false resumes', recoveredFalse, 0, '', 0),
    maxCheck(BENCH, 'duplicates surfaced', duplicates, 0, '', 0),
    maxCheck(BENCH, 'presence flaps', flaps, 0, '', 0),
    maxCheck(BENCH, 'acknowledged but not delivered', missingMsgs, 0, '', 0),
    maxCheck(BENCH, 'reconnect p99 (migrate → connected)', s.p99, 2000, 'ms', 0),
  ];
  emit({ bench: BENCH, checks, detail, notes: [`drain + restart per region (ms): ${names.map((r) => `${r} ${fmt(drainMs[r]!)}`).join(', ')}`] }, values.json);
} finally {
  await Promise.all(clients.map((c) => c.close()));
  if (child.exitCode === null) child.kill('SIGTERM');
  await exited;
}
