/**
 * `meridian up` (npm start): every region of the topology with its region node, and the edge in
 * front of them. With the embedded bus (the default) all regions live in this process, joined by
 * the simulated WAN; with `--bus nats` each region attaches to its own NATS cluster of a
 * super-cluster. Dev auth is on (the demo page at each region's `/` uses it), the edge's admin
 * endpoints take a region down and back (embedded: its bus links die and its node stops
 * answering). It prints the URLs and the measured WAN; `--json` prints one JSON line instead.
 * SIGINT/SIGTERM drain and exit 0.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openEdgeAuditLog, startEdge, DEFAULT_EDGE_PORT } from '../../edge/server/mod.js';
import type { AuditLog } from '../../audit/mod.js';
import type { Edge } from '../../edge/server/mod.js';
import { isMeridianError } from '../../errors/mod.js';
import type { BusKind, NatsCredentials } from '../../runtime/buses.js';
import { startDeployment } from '../../runtime/deployment.js';
import { newWorkerToken, servicesModules } from '../../runtime/services.js';
import type { Deployment } from '../../runtime/deployment.js';
import { measureRtts } from '../../runtime/ping.js';
import { loadTopology, defaultTopology, TopologyError, formatProblem } from '../../topology/mod.js';
import type { Topology } from '../../topology/mod.js';
import { OTLP_HELP, startTracing } from '../tracing.js';
import { isLoopbackListen, usageGuard, UsageError } from '../command.js';
import { applyLogLevel, createLogger } from '../../observability/logger.js';
import { createKey, KeyRing, SCOPES } from '../../keys/mod.js';
import type { CreatedKey } from '../../keys/mod.js';
import type { Command, Io } from '../command.js';

export const DEFAULT_PORT_BASE = 7701;
/** How long Ctrl-C waits for clients to follow `migrate` (every region drains at once here). */
const UP_DRAIN_MS = 3000;
/** The note of the key `meridian up` makes; a later run on the same keys file replaces it. */
export const UP_KEY_NOTE = 'meridian up (every scope)';

const HELP = `Usage: meridian up [--config FILE] [--bus embedded|nats] [--nats URLS] [--nats-nkey SEEDS]
                   [--nats-ca FILE] [--data DIR] [--port-base N] [--edge-port N] [--host ADDR]
                   [--dev-public] [--keys FILE] [--log-level L] [--otlp URL] [--json]

Starts every region of the topology (default: the built-in us-east, eu-west, ap-southeast), each
with its region node (WebSocket /ws, HTTP /v1/*, a demo page at /), and the edge in front.
  --config FILE    topology file (default: built-in)
  --bus KIND       embedded (default): all regions in this process over a simulated WAN
                   nats: each region on its NATS cluster (urls from the topology, or --nats)
  --nats URLS      with --bus nats: region=url pairs, comma separated
                   (us-east=nats://127.0.0.1:4222,eu-west=...); overrides the topology's urls
  --nats-nkey SEEDS with --bus nats: NKEY user seed files to log in with, region=FILE pairs, one
                   for every region (us-east=deploy/nats/users/us-east-node.nk,eu-west=...; what
                   meridian plan writes), or one FILE for every region
  --nats-ca FILE   with --bus nats: PEM CA that signed the NATS servers' certificates; turns TLS
                   on (meridian plan writes tls/ca.pem)
  --data DIR       keep the message logs here (default: a temp dir, removed at exit)
  --port-base N    first region's port, the next regions follow (default ${DEFAULT_PORT_BASE}; 0: free ports)
  --edge-port N    the edge's port (default ${DEFAULT_EDGE_PORT}; a free port with --port-base 0)
  --host ADDR      listen address of every server (default 127.0.0.1); another address than
                   loopback needs --dev-public (dev auth: anyone may connect as any user)
  --dev-public     accept serving dev auth beyond this machine (never in production)
  --keys FILE      the API keys file every node and the edge read (or env MERIDIAN_KEYS_FILE;
                   default: keys.json in the data dir). A key with every scope is created in it
                   and printed as the admin token (replacing the one an earlier run made there);
                   add others with meridian keys create --file FILE, revoke with meridian keys revoke
  --log-level L    trace|debug|info|warn|error|fatal|silent for the JSON log lines on stderr
                   (default: env MERIDIAN_LOG_LEVEL, else info)
${OTLP_HELP}
  --json           print one JSON line when ready:
                   {"regions":{...},"edge":"...","workerToken":"...","adminToken":"...",
                    "adminKeyId":"...","keysFile":"...","dashboard":"<edge>/dashboard#token=<adminToken>"}
Dev auth is on: connect with { "type": "auth", "id": "a", "user": "alice" }; service and function
calls need no credential. An admin key (an API key with every scope, "adminToken") is created and
printed: take a region down and back with POST <edge>/v1/admin/regions/NAME/down (or /up) and
Authorization: Bearer <adminToken>;
POST <edge>/v1/admin/regions/NAME/drain moves its clients away (migrate, make before break) and
restarts the region (new node id, same data); GET <edge>/v1/regions shows it draining, then ready.
Ctrl-C (SIGINT) or SIGTERM drains and stops it.
`;

const options = {
  config: { type: 'string' },
  bus: { type: 'string', default: 'embedded' },
  nats: { type: 'string' },
  'nats-nkey': { type: 'string' },
  'nats-ca': { type: 'string' },
  data: { type: 'string' },
  'port-base': { type: 'string' },
  'edge-port': { type: 'string' },
  host: { type: 'string' },
  json: { type: 'boolean' },
  'dev-public': { type: 'boolean' },
  keys: { type: 'string' },
  'log-level': { type: 'string' },
  otlp: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface UpArgs {
  readonly kind: BusKind;
  readonly nats: string | undefined;
  readonly natsNkey: string | undefined;
  readonly natsCa: string | undefined;
  readonly data: string | undefined;
  readonly portBase: number;
  readonly edgePort: number;
  readonly host: string | undefined;
  readonly json: boolean;
  readonly keys: string | undefined;
}

export function parsePort(name: string, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new UsageError(`--${name} must be 0..65535, not "${text}"`);
  return n;
}

const SEED = /^SU[A-Z2-7]{56}$/;

/**
 * `--nats-nkey` (one FILE, or region=FILE for every region) and `--nats-ca FILE` → each region's
 * credentials. A malformed value or a file without a user seed is a UsageError; the seed is
 * never echoed.
 */
export async function natsAuthOf(topology: Topology, nkey: string | undefined, ca: string | undefined): Promise<Record<string, NatsCredentials>> {
  const regions = topology.regions.map((r) => r.name);
  const files = new Map<string, string>();
  if (nkey !== undefined) {
    const parts = nkey.split(',').map((s) => s.trim()).filter(Boolean);
    if (parts.length === 1 && !parts[0]!.includes('=')) {
      for (const r of regions) files.set(r, parts[0]!);
    } else {
      for (const part of parts) {
        const eq = part.indexOf('=');
        const region = part.slice(0, eq);
        if (eq <= 0 || !regions.includes(region) || part.length === eq + 1) throw new UsageError(`meridian up: --nats-nkey: expected region=FILE with a region of the topology (${regions.join(', ')}), or one FILE, got "${part}"`);
        if (files.has(region)) throw new UsageError(`meridian up: --nats-nkey: region ${region} given twice`);
        files.set(region, part.slice(eq + 1));
      }
      const without = regions.filter((r) => !files.has(r));
      if (without.length > 0) throw new UsageError(`meridian up: --nats-nkey: no seed file for ${without.join(', ')}: give region=FILE for every region of the topology, or one FILE for all`);
    }
  }
  const seeds = new Map<string, string>();
  for (const file of new Set(files.values())) {
    const seed = (await readFile(file, 'utf8')).trim();
    if (!SEED.test(seed)) throw new UsageError(`meridian up: ${file} does not hold an NKEY user seed (one line starting with SU)`);
    seeds.set(file, seed);
  }
  const tls = ca === undefined ? undefined : { ca: await readFile(ca, 'utf8') };
  const out: Record<string, NatsCredentials> = {};
  for (const r of regions) {
    const file = files.get(r);
    out[r] = { ...(file === undefined ? {} : { nkeySeed: seeds.get(file)! }), ...(tls === undefined ? {} : { tls }) };
  }
  return out;
}

export const upCommand: Command = {
  name: 'up',
  summary: 'start every region of the topology and the edge (embedded: one process, simulated WAN)',
  async run(argv, io) {
    let args: UpArgs;
    let config: string | undefined;
    let otlp: string | undefined;
    try {
      const { values } = usageGuard('up', () => parseArgs({ args: [...argv], options, strict: true }));
      if (values.help) {
        io.out(HELP);
        return 0;
      }
      if (values.bus !== 'embedded' && values.bus !== 'nats') throw new UsageError(`meridian up: --bus must be embedded or nats, not "${values.bus}"`);
      for (const flag of ['nats-nkey', 'nats-ca'] as const) {
        if (values[flag] !== undefined && values.bus !== 'nats') throw new UsageError(`meridian up: --${flag} needs --bus nats`);
      }
      otlp = values.otlp;
      const badLevel = applyLogLevel(values['log-level']);
      if (badLevel !== undefined) throw new UsageError(`meridian up: ${badLevel}`);
      if (!isLoopbackListen(values.host) && values['dev-public'] !== true) {
        throw new UsageError(`meridian up: dev auth lets anyone connect as any user and call every service: refused on --host ${values.host ?? ''} without --dev-public`);
      }
      // Allowed, but never silently: the exposure is what the flag exists to make explicit.
      if (!isLoopbackListen(values.host)) io.err(`meridian up: warning: --dev-public: dev auth on --host ${values.host ?? ''}: anyone who can reach these ports may connect as any user and call every service (development only)\n`);
      const portBase = parsePort('port-base', values['port-base'], DEFAULT_PORT_BASE);
      config = values.config;
      args = {
        kind: values.bus,
        nats: values.nats,
        natsNkey: values['nats-nkey'],
        natsCa: values['nats-ca'],
        data: values.data,
        portBase,
        edgePort: parsePort('edge-port', values['edge-port'], portBase === 0 ? 0 : DEFAULT_EDGE_PORT),
        host: values.host,
        json: values.json === true,
        keys: values.keys ?? (process.env['MERIDIAN_KEYS_FILE'] || undefined),
      };
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message.startsWith('meridian') ? '' : 'meridian up: '}${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    let topology: Topology;
    let natsAuth: Record<string, NatsCredentials> | undefined;
    try {
      topology = config ? await loadTopology(config) : defaultTopology();
      if (args.natsNkey !== undefined || args.natsCa !== undefined) natsAuth = await natsAuthOf(topology, args.natsNkey, args.natsCa);
    } catch (err) {
      if (err instanceof TopologyError) {
        for (const p of err.problems) io.err(formatProblem(p) + '\n');
        return 1;
      }
      if (err instanceof UsageError) {
        io.err(`${err.message}\n`);
        return 2;
      }
      if (isMeridianError(err) || (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EACCES') {
        io.err(`meridian up: ${(err as Error).message}\n`);
        return 1;
      }
      throw err;
    }
    let tracing;
    try {
      tracing = startTracing('up', otlp);
    } catch (err) {
      io.err(`${(err as Error).message}\n`);
      return 2;
    }
    try {
      return await runUp(topology, args, io, natsAuth);
    } finally {
      await tracing?.shutdown();
    }
  },
};

async function runUp(topology: Topology, a: UpArgs, io: Io, natsAuth: Record<string, NatsCredentials> | undefined): Promise<number> {
  // With --json, stdout carries exactly the one JSON line; the story goes to stderr.
  const say = (s: string): void => (a.json ? io.err(s) : io.out(s));
  let d: Deployment | undefined;
  let edge: Edge | undefined;
  let keys: KeyRing | undefined;
  let edgeAudit: AuditLog | undefined;
  const workerToken = newWorkerToken();
  // Without --data the logs (and the keys file) live in a temp dir of this run, removed at exit.
  const temp = a.data === undefined ? mkdtempSync(join(tmpdir(), 'meridian-data-')) : undefined;
  const dataDir = a.data ?? temp!;
  const removeTemp = (): void => {
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
  };
  const keysFile = a.keys ?? join(dataDir, 'keys.json');
  let admin: CreatedKey;
  try {
    // The operator credential of this run: an API key with every scope (the edge's admin
    // endpoints; on every node the DLQ, listings, sends, every service and function). The key an
    // earlier run made in the same file is replaced, not kept.
    admin = await createKey(keysFile, { scopes: SCOPES, note: UP_KEY_NOTE, replace: (r) => r.note === UP_KEY_NOTE });
    keys = await KeyRing.open(keysFile, { log: createLogger({ base: { component: 'keys' } }) });
    d = await startDeployment(topology, {
      bus: a.kind,
      ...(a.nats === undefined ? {} : { nats: a.nats }),
      ...(natsAuth === undefined ? {} : { natsAuth }),
      dataDir,
      portBase: a.portBase,
      ...(a.host === undefined ? {} : { host: a.host }),
      region: { node: { auth: { dev: true }, keys }, modules: servicesModules(workerToken, { egress: { ...topology.egress, allowLoopback: true } }) },
    });
    const dep = d;
    // The edge's audit trail beside the nodes' (<data>/_edge/audit.db): GET <edge>/v1/audit.
    edgeAudit = openEdgeAuditLog(dataDir);
    edge = await startEdge({
      topology,
      regionUrls: d.urls,
      port: a.edgePort,
      ...(a.host === undefined ? {} : { host: a.host }),
      keys,
      audit: edgeAudit,
      onRegionDown: (region) => dep.takeDown(region),
      onRegionUp: (region) => dep.bringUp(region),
      onRegionDrain: (region) => dep.drainRegion(region),
    });
  } catch (err) {
    await edge?.close().catch(() => undefined);
    await edgeAudit?.close().catch(() => undefined);
    await d?.close().catch(() => undefined);
    keys?.close();
    removeTemp();
    if (isMeridianError(err) || err instanceof UsageError || (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      io.err(`meridian up: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
  const adminToken = admin.key;
  const adminKeyId = admin.record.id;
  try {
    const login = [a.natsNkey === undefined ? '' : 'NKEY login', a.natsCa === undefined ? '' : `TLS with the CA in ${a.natsCa}`].filter(Boolean).join(', ');
    say(`meridian up: ${topology.regions.length} regions on the ${a.kind} bus${login === '' ? '' : ` (${login})`}${a.data === undefined ? '' : `, data in ${a.data}`}\n`);
    const rtts = await measureRtts(d.buses.buses);
    for (const r of topology.regions) {
      const row = topology.regions
        .filter((o) => o.name !== r.name)
        .map((o) => `${o.name} ${formatMs(rtts.get(`${r.name}|${o.name}`))}`)
        .join(', ');
      say(`  ${r.name.padEnd(14)} ${(r.location.city ?? '').padEnd(12)} ${r.jurisdiction.padEnd(4)} ${d.urls[r.name]}  rtt → ${row}\n`);
    }
    // The token rides in the fragment, which browsers never send: it stays out of server logs.
    const dashboard = `${edge.url}/dashboard#token=${adminToken}`;
    say(`  edge           ${edge.url}  (GET /v1/route, /ws, /v1/*; admin: POST /v1/admin/regions/NAME/down|up|drain)\n`);
    say(`  worker token   ${workerToken}  (Authorization: Bearer … on POST /v1/workers; see docs/services.md)\n`);
    say(`  admin key      ${adminToken}  (id ${adminKeyId}, every scope, in ${keysFile}; Authorization: Bearer … on the edge's /v1/admin/* and /v1/audit, the nodes' /v1/dlq, /v1/audit and listings)\n`);
    say(`  more keys      meridian keys create --file ${keysFile} --scopes send  (list, revoke: no restart needed)\n`);
    say(`  dashboard      ${dashboard}  (live map: health, load, flows, steering; take regions down and up)\n`);
    say('  dev auth: clients connect without a token, and service proxy calls and function invocations need no credential (development only; listings and the DLQ need the admin key)\n');
    say(`Open ${d.urls[topology.regions[0]!.name]}/ and ${d.urls[topology.regions[1]?.name ?? topology.regions[0]!.name]}/ in two tabs to send messages across regions.\n`);
    if (a.json) io.out(`${JSON.stringify({ regions: d.urls, edge: edge.url, workerToken, adminToken, adminKeyId, keysFile, dashboard })}\n`);
    say('ready. Ctrl-C to stop.\n');
    // Signal listeners do not keep Node's event loop alive, and the bus's timers are unref'd.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const signal = await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]).finally(() => clearInterval(keepAlive));
    say(`\nmeridian up: ${String(signal[0] ?? 'signal')}: draining and stopping\n`);
    await Promise.all([...d.regions.values()].map((r) => r.node.drain({ deadlineMs: UP_DRAIN_MS })));
  } finally {
    await edge.close().catch(() => undefined);
    await edgeAudit?.close().catch(() => undefined);
    await d.close();
    keys.close();
    removeTemp();
  }
  return 0;
}

function formatMs(ms: number | undefined): string {
  return ms === undefined ? 'unreachable' : `${ms.toFixed(1)} ms`;
}
