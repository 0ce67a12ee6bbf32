/**
 * Memory per idle authenticated connection: the server process's RSS and heap growth from before
 * the first connection to `--connections` sockets open, authenticated and idle, after a full GC.
 *   - raw ws + bufferutil: the token (HS256 JWT, verified with jose) comes in the upgrade's
 *     Authorization header; the server keeps the socket and its user;
 *   - Meridian: a region node; each socket sends `auth` and waits for `welcome`.
 * Clients live in another process (one process holds at most ~20k sockets here: the fd limit).
 *
 *   npx tsx bench/idle-connections.ts [--connections 10000] [--json out.json]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT, jwtVerify } from 'jose';
import { meridianAvailable, startMeridianNode } from './lib/meridian.js';
import { exitWithParent, forkRole, sleep } from './lib/proc.js';
import type { Role } from './lib/proc.js';
import { emit, missing, ratioCheck } from './lib/report.js';
import type { Check } from './lib/report.js';
import { fmt, table } from './lib/stats.js';
import { openClient, openMany } from './lib/ws-clients.js';
import type { BenchSocket } from './lib/ws-clients.js';
import { startRawWs } from './lib/ws-servers.js';
import type { StartedServer } from './lib/ws-servers.js';

const BENCH = 'idle connections';
const self = fileURLToPath(import.meta.url);
const SECRET_TEXT = 'bench-secret-bench-secret-bench-secret';
const SECRET = new TextEncoder().encode(SECRET_TEXT);
const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    role: { type: 'string' },
    kind: { type: 'string' },
    json: { type: 'string' },
  },
});
const connections = Number(values.connections);

type Kind = 'raw-ws' | 'meridian';
interface Mem {
  readonly rss: number;
  readonly heap: number;
  readonly connections: number;
}

async function settledMemory(connectionsNow: () => number): Promise<Mem> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(200);
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, connections: connectionsNow() };
}

if (values.role === 'server') {
  const kind = values.kind as Kind;
  const started: StartedServer =
    kind === 'meridian'
      ? await startMeridianNode({ secret: SECRET_TEXT })
      : await startRawWs({
          frameOnce: true,
          verify: async (token) => {
            const { payload } = await jwtVerify(token, SECRET, { algorithms: ['HS256'] });
            if (typeof payload.sub !== 'string') throw new Error('no sub');
            return payload.sub;
          },
        });
  process.on('message', (m: { cmd: 'mem' }) => {
    if (m.cmd === 'mem') void settledMemory(() => started.connections()).then((mem) => process.send?.(mem));
  });
  process.send?.(started.url);
  exitWithParent(() => started.close());
} else if (values.role === 'clients') {
  const socks: BenchSocket[] = [];
  process.on('message', (m: { cmd: 'connect'; base: string; kind: Kind }) => {
    void (async () => {
      const opened = await openMany(connections, 100, async (i) => {
        // A distinct user per connection, as real clients would be.
        const token = await new SignJWT({ rooms: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject(`u${i}`).setExpirationTime('1h').sign(SECRET);
        return openClient({ kind: m.kind, base: m.base, role: 'sub', user: `u${i}`, room: '', token, idle: true });
      });
      socks.push(...opened);
      process.send?.({ open: socks.length });
    })();
  });
  process.send?.('ready');
  exitWithParent(() => socks.forEach((s) => s.sock.close()));
} else {
  await main();
}

interface Side {
  readonly kind: Kind;
  readonly before: Mem;
  readonly after: Mem;
}

async function measure(kind: Kind): Promise<Side> {
  const roles: Role<string>[] = [];
  try {
    const server = await forkRole<string>(self, 'server', ['--kind', kind], { nodeFlags: ['--expose-gc'] });
    roles.push(server);
    const clients = await forkRole<string>(self, 'clients', ['--connections', String(connections)]);
    roles.push(clients);
    const before = await server.ask<Mem>({ cmd: 'mem' });
    await clients.ask({ cmd: 'connect', base: server.ready, kind }, 120_000);
    await sleep(1_000);
    const after = await server.ask<Mem>({ cmd: 'mem' });
    return { kind, before, after };
  } finally {
    for (const r of roles.reverse()) await r.stop();
  }
}

async function main(): Promise<void> {
  const kinds: Kind[] = ['raw-ws'];
  const meridian = await meridianAvailable();
  if (meridian.ok) kinds.push('meridian');
  const sides: Side[] = [];
  for (const k of kinds) sides.push(await measure(k));
  const perConn = (s: Side, f: 'rss' | 'heap'): number => (s.after[f] - s.before[f]) / s.after.connections;
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
  const detail = [
    `${connections} idle authenticated WebSocket connections, server process memory after GC`,
    table(
      ['server', 'connections', 'RSS before MiB', 'RSS after MiB', 'RSS/conn KB', 'heap/conn KB'],
      sides.map((s) => [s.kind, fmt(s.after.connections), mib(s.before.rss), mib(s.after.rss), fmt(perConn(s, 'rss') / 1024, 2), fmt(perConn(s, 'heap') / 1024, 2)]),
    ),
  ].join('\n');
  const raw = sides.find((s) => s.kind === 'raw-ws');
  const m = sides.find((s) => s.kind === 'meridian');
  const checks: Check[] = [];
  if (raw && m) {
    const c = ratioCheck(BENCH, 'Meridian RSS/conn vs raw ws', perConn(m, 'rss'), perConn(raw, 'rss'), 0, 'B');
    const r = perConn(m, 'rss') / perConn(raw, 'rss');
    checks.push({ ...c, target: '≤ 1.15×', met: r <= 1.15 });
  } else checks.push(missing(BENCH, 'Meridian RSS/conn vs raw ws', '≤ 1.15×', meridian.ok ? 'a side failed' : meridian.why));
  emit({ bench: BENCH, checks, detail, notes: ['RSS also counts memory the allocator keeps after GC; heap/conn is the V8 part of it'] }, values.json);
}
