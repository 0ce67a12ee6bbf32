/**
 * `meridian region NAME`: run one region's node — the way to deploy Meridian, one process (or
 * more) per region, each on its region's NATS cluster. With the embedded bus it runs alone, which
 * is useful for trying a single region. Authentication must be configured: a JWT secret or public
 * key (flags or MERIDIAN_AUTH_SECRET / MERIDIAN_AUTH_PUBLIC_KEY), or `--dev` for anonymous users.
 * SIGTERM (and SIGINT) drain: clients are told to migrate, then it exits 0.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { EmbeddedNetwork } from '../../bus/embedded/mod.js';
import { connectNatsBus } from '../../bus/nats/mod.js';
import type { Bus } from '../../bus/types.js';
import { isMeridianError } from '../../errors/mod.js';
import { trustedProxyProblem } from '../../http/client-address.js';
import { parseRegionList } from '../../edge/server/mod.js';
import type { AuthOptions } from '../../node/mod.js';
import { startRegion } from '../../runtime/region.js';
import { newAdminToken, newWorkerToken, servicesModules } from '../../runtime/services.js';
import type { RegionRuntime } from '../../runtime/region.js';
import { defaultTopology, formatProblem, linkLatencyMs, loadTopology, TopologyError } from '../../topology/mod.js';
import type { Topology } from '../../topology/mod.js';
import { startTracing } from '../tracing.js';
import { isLoopbackListen, usageGuard, UsageError } from '../command.js';
import { applyLogLevel, createLogger } from '../../observability/logger.js';
import { KeyRing } from '../../keys/mod.js';
import type { Command, Io } from '../command.js';
import { DEFAULT_PORT_BASE, parsePort } from './up.js';

const HELP = `Usage: meridian region NAME [--config FILE] [--bus embedded|nats] [--nats URL,...] [--data DIR]
                       [--nats-nkey FILE] [--nats-ca FILE]
                       [--port N] [--host ADDR] [--dev] [--dev-public] [--auth-secret S | --auth-public-key FILE]
                       [--region-urls name=url,...] [--worker-token T] [--keys FILE] [--admin-token T]
                       [--origins LIST] [--trusted-proxies LIST] [--log-level L] [--otlp URL]

Runs the region node of region NAME: WebSocket /ws, HTTP /v1/*, /health, /ready, a demo page at /.
  --config FILE          topology file (default: built-in)
  --bus KIND             nats: attach to the region's NATS cluster (urls from the topology, or --nats)
                         embedded (default): this region alone, in this process
  --nats URLS            the region's NATS servers, comma separated (nats://10.0.0.1:4222,...;
                         tls://host:4222 requires TLS; or env MERIDIAN_NATS_URLS)
  --nats-nkey FILE       file holding the NKEY user seed to log in to NATS with (or env
                         MERIDIAN_NATS_NKEY_FILE; \`meridian plan\` writes nats/users/<region>-node.nk)
  --nats-ca FILE         PEM CA that signed the NATS servers' certificates; turns TLS on (or env
                         MERIDIAN_NATS_CA_FILE; \`meridian plan\` writes tls/ca.pem)
  --data DIR             embedded bus: where the message log lives (default: ./meridian-data)
  --port N               listen port (default: ${DEFAULT_PORT_BASE} + the region's position in the topology)
  --host ADDR            listen address (default 127.0.0.1; 0.0.0.0 to serve other hosts)
  --dev                  accept anonymous { "user": ... } auth (development only; with a --host
                         other than loopback only together with --dev-public)
  --dev-public           accept --dev beyond this machine (never in production)
  --auth-secret S        HS256 secret for client JWTs (or MERIDIAN_AUTH_SECRET)
  --auth-public-key FILE Ed25519 public key (SPKI PEM) for EdDSA JWTs (or MERIDIAN_AUTH_PUBLIC_KEY, the PEM itself)
  --region-urls LIST     other regions' node URLs, for migrate and /v1/regions (us-east=https://...,...)
  --worker-token T       registration token workers present on POST /v1/workers (or env
                         MERIDIAN_WORKER_TOKEN; every region of a deployment uses the same one).
                         Without it a token is generated and printed
  --keys FILE            API keys with scopes (admin, send, services, dlq, erase) made by
                         \`meridian keys create\` (or env MERIDIAN_KEYS_FILE): the operator
                         credentials. Re-read when it changes (rotation needs no restart); every
                         region and the edge read the same file
  --admin-token T        deprecated: a credential with every scope (Authorization: Bearer T); at
                         least 16 characters (or env MERIDIAN_ADMIN_TOKEN). Without it and without
                         --keys a token is generated and printed
  --origins LIST         browser origins allowed to open WebSockets, comma separated
                         (https://app.example.com,...); others get 403. Default: the
                         topology's origins:, else any
  --trusted-proxies LIST proxies whose X-Forwarded-For names the client for rate limits and the
                         audit trail: addresses, CIDRs, loopback, linklocal, uniquelocal, comma
                         separated (10.0.0.0/8,loopback). Default: the topology's
                         trustedProxies:, else loopback; an empty LIST trusts none
  --log-level L          trace|debug|info|warn|error|fatal|silent for the JSON log lines on stderr
                         (default: env MERIDIAN_LOG_LEVEL, else info)
  --otlp URL             send traces to an OpenTelemetry collector (OTLP/HTTP, e.g.
                         http://127.0.0.1:4318); default: env OTEL_EXPORTER_OTLP_ENDPOINT, else none
SIGTERM or Ctrl-C drains (clients are told to migrate) and stops.
`;

const options = {
  config: { type: 'string' },
  bus: { type: 'string', default: 'embedded' },
  nats: { type: 'string' },
  'nats-nkey': { type: 'string' },
  'nats-ca': { type: 'string' },
  data: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  dev: { type: 'boolean' },
  'dev-public': { type: 'boolean' },
  'auth-secret': { type: 'string' },
  'auth-public-key': { type: 'string' },
  'region-urls': { type: 'string' },
  'worker-token': { type: 'string' },
  keys: { type: 'string' },
  'admin-token': { type: 'string' },
  origins: { type: 'string' },
  'trusted-proxies': { type: 'string' },
  'log-level': { type: 'string' },
  otlp: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];
const parse = (argv: readonly string[]) => parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });

export const regionCommand: Command = {
  name: 'region',
  summary: 'run one region\'s node (WebSocket /ws, HTTP /v1/*) on its bus',
  async run(argv, io) {
    let values: Values;
    let name: string;
    try {
      const parsed = usageGuard('region', () => parse(argv));
      values = parsed.values;
      if (values.help) {
        io.out(HELP);
        return 0;
      }
      if (parsed.positionals.length !== 1) throw new UsageError('meridian region: name exactly one region');
      name = parsed.positionals[0]!;
      if (values.bus !== 'embedded' && values.bus !== 'nats') throw new UsageError(`meridian region: --bus must be embedded or nats, not "${values.bus}"`);
      if (values['auth-secret'] !== undefined && values['auth-public-key'] !== undefined) throw new UsageError('meridian region: give --auth-secret or --auth-public-key, not both');
      if (values.dev === true && !isLoopbackListen(values.host) && values['dev-public'] !== true) {
        throw new UsageError(`meridian region: --dev lets anyone connect as any user: refused on --host ${values.host ?? ''} without --dev-public`);
      }
      // Allowed, but never silently: the exposure is what --dev-public exists to make explicit.
      if (values.dev === true && !isLoopbackListen(values.host)) io.err(`meridian region: warning: --dev-public: dev auth on --host ${values.host ?? ''}: anyone who can reach this port may connect as any user (development only)\n`);
      if (values['trusted-proxies'] !== undefined) {
        for (const entry of trustedProxyList(values['trusted-proxies'])) {
          const problem = trustedProxyProblem(entry);
          if (problem !== undefined) throw new UsageError(`meridian region: --trusted-proxies: ${problem}`);
        }
      }
      const badLevel = applyLogLevel(values['log-level']);
      if (badLevel !== undefined) throw new UsageError(`meridian region: ${badLevel}`);
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message.startsWith('meridian') ? '' : 'meridian region: '}${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    try {
      const tracing = startTracing('region', values.otlp);
      try {
        return await runRegion(name, values, io);
      } finally {
        await tracing?.shutdown();
      }
    } catch (err) {
      if (err instanceof TopologyError) {
        for (const p of err.problems) io.err(formatProblem(p) + '\n');
        return 1;
      }
      if (err instanceof UsageError) {
        io.err(`${err.message}\n`);
        return 2;
      }
      if (isMeridianError(err) || (err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'ENOENT') {
        io.err(`meridian region: ${(err as Error).message}\n`);
        return 1;
      }
      throw err;
    }
  },
};

/** `--trusted-proxies` as entries; an empty value is an empty list (trust no proxy). */
function trustedProxyList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

async function authOptions(values: Values): Promise<AuthOptions> {
  const secret = values['auth-secret'] ?? process.env['MERIDIAN_AUTH_SECRET'];
  const keyFile = values['auth-public-key'];
  const pem = keyFile !== undefined ? await readFile(keyFile, 'utf8') : process.env['MERIDIAN_AUTH_PUBLIC_KEY'];
  const auth: AuthOptions = {
    ...(secret === undefined || secret === '' ? {} : { hs256Secret: secret }),
    ...(pem === undefined || pem === '' ? {} : { eddsaPublicKey: pem }),
    dev: values.dev === true,
  };
  if (auth.hs256Secret === undefined && auth.eddsaPublicKey === undefined && !auth.dev) {
    throw new UsageError('meridian region: no way to authenticate clients: pass --auth-secret, --auth-public-key (or set MERIDIAN_AUTH_SECRET / MERIDIAN_AUTH_PUBLIC_KEY), or --dev');
  }
  return auth;
}

async function attach(topology: Topology, name: string, values: Values): Promise<{ bus: Bus; close: () => Promise<void> }> {
  if (values.bus === 'nats') {
    const spec = (values.nats ?? process.env['MERIDIAN_NATS_URLS'])?.trim();
    const servers = spec === undefined || spec === '' ? (topology.regions.find((r) => r.name === name)?.nats ?? []) : spec.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (s.includes('=') ? s.slice(s.indexOf('=') + 1) : s));
    if (servers.length === 0) throw new UsageError(`meridian region: region ${name} has no NATS urls: set regions[].nats in the topology or pass --nats nats://host:4222`);
    const bus = await connectNatsBus({ region: name, servers, name: `meridian-${name}`, ...(await natsCredentials(values)) });
    return { bus, close: () => bus.close() };
  }
  // Embedded: the whole topology's WAN exists, only this region has a node on it.
  const network = new EmbeddedNetwork(
    topology.regions.map((r) => ({ name: r.name, lat: r.location.lat, lon: r.location.lon })),
    { latencyMs: (a, b) => linkLatencyMs(topology, a, b) },
  );
  const bus = network.connect(name);
  return {
    bus,
    close: async () => {
      await bus.close();
      await network.close();
    },
  };
}

/** NKEY seed and CA from --nats-nkey / --nats-ca (or their env vars); the seed is never echoed. */
async function natsCredentials(values: Values): Promise<{ nkeySeed?: string; tls?: { ca: string } }> {
  const nkeyFile = values['nats-nkey'] ?? (process.env['MERIDIAN_NATS_NKEY_FILE'] || undefined);
  const caFile = values['nats-ca'] ?? (process.env['MERIDIAN_NATS_CA_FILE'] || undefined);
  const out: { nkeySeed?: string; tls?: { ca: string } } = {};
  if (nkeyFile !== undefined) {
    const seed = (await readFile(nkeyFile, 'utf8')).trim();
    if (!/^SU[A-Z2-7]{56}$/.test(seed)) throw new UsageError(`meridian region: ${nkeyFile} does not hold an NKEY user seed (one line starting with SU)`);
    out.nkeySeed = seed;
  }
  if (caFile !== undefined) out.tls = { ca: await readFile(caFile, 'utf8') };
  return out;
}

async function runRegion(name: string, values: Values, io: Io): Promise<number> {
  const topology = values.config !== undefined ? await loadTopology(values.config) : defaultTopology();
  const index = topology.regions.findIndex((r) => r.name === name);
  if (index < 0) throw new UsageError(`meridian region: no region "${name}" in the topology (known: ${topology.regions.map((r) => r.name).join(', ')})`);
  let port: number;
  try {
    port = parsePort('port', values.port, DEFAULT_PORT_BASE + index);
  } catch (err) {
    throw new UsageError(`meridian region: ${(err as Error).message}`);
  }
  const auth = await authOptions(values);
  const regionUrls = values['region-urls'] === undefined ? {} : parseRegionList(values['region-urls']);
  const dataDir = values.data ?? 'meridian-data';
  const workerToken = values['worker-token'] ?? process.env['MERIDIAN_WORKER_TOKEN'] ?? newWorkerToken();
  if (workerToken.length < 16) throw new UsageError('meridian region: the worker token must be at least 16 characters');
  const keysFile = values.keys ?? (process.env['MERIDIAN_KEYS_FILE'] || undefined);
  const adminGiven = values['admin-token'] ?? process.env['MERIDIAN_ADMIN_TOKEN'];
  // With a keys file the keys are the operator credentials; the admin token is only generated
  // (deprecated behaviour) when neither is given.
  const adminToken = adminGiven !== undefined && adminGiven !== '' ? adminGiven : keysFile === undefined ? newAdminToken() : undefined;
  if (adminToken !== undefined && adminToken.length < 16) throw new UsageError('meridian region: the admin token must be at least 16 characters');
  if (adminToken === workerToken) throw new UsageError('meridian region: the admin token and the worker token must differ');
  const keys = keysFile === undefined ? undefined : await KeyRing.open(keysFile, { log: createLogger({ base: { region: name, component: 'keys' } }) });
  let bus: Bus;
  let closeBus: () => Promise<void>;
  try {
    ({ bus, close: closeBus } = await attach(topology, name, values));
  } catch (err) {
    keys?.close();
    throw err;
  }
  let region: RegionRuntime;
  try {
    region = await startRegion({
      topology,
      region: name,
      bus,
      dataDir,
      // Dev mode: workers on this machine are fine; in production loopback stays refused.
      modules: servicesModules(workerToken, auth.dev ? { egress: { ...topology.egress, allowLoopback: true } } : {}),
      node: {
        port,
        ...(values.host === undefined ? {} : { host: values.host }),
        auth,
        ...(adminToken === undefined ? {} : { adminToken }),
        ...(keys === undefined ? {} : { keys }),
        regionUrls,
        ...(values.origins === undefined ? {} : { origins: values.origins.split(',').map((s) => s.trim()).filter(Boolean) }),
        ...(values['trusted-proxies'] === undefined ? {} : { trustedProxies: trustedProxyList(values['trusted-proxies']) }),
      },
    });
  } catch (err) {
    keys?.close();
    await closeBus();
    throw err;
  }
  try {
    const how = [auth.hs256Secret ? 'HS256' : '', auth.eddsaPublicKey ? 'EdDSA' : '', auth.dev ? 'dev (anonymous users allowed)' : ''].filter(Boolean).join(', ');
    io.out(`meridian region ${name}: listening on ${region.url} (WebSocket ${region.url.replace(/^http/, 'ws')}/ws), node ${region.node.node}\n`);
    io.out(`  bus ${values.bus}${values.bus === 'embedded' ? `, log in ${dataDir}` : ', log on JetStream'}; auth: ${how}\n`);
    const tokenSource = values['worker-token'] !== undefined ? '--worker-token' : process.env['MERIDIAN_WORKER_TOKEN'] !== undefined ? 'MERIDIAN_WORKER_TOKEN' : `generated: ${workerToken}`;
    io.out(`  services: workers register at ${region.url}/v1/workers with the worker token (${tokenSource})\n`);
    if (keys !== undefined) io.out(`  operator endpoints need an API key from ${keys.file} (${keys.size} keys; re-read when it changes) with the right scope\n`);
    if (adminToken !== undefined) {
      const adminSource = values['admin-token'] !== undefined ? '--admin-token' : adminGiven !== undefined && adminGiven !== '' ? 'MERIDIAN_ADMIN_TOKEN' : `generated: ${adminToken}`;
      io.out(`  admin token (deprecated: every scope; prefer --keys FILE and meridian keys create): ${adminSource}\n`);
    }
    io.out(auth.dev ? '  dev mode: clients connect without a token; service proxy calls and function invocations need no credential (the service and function listings and the DLQ still need an API key)\n' : '  service and function calls need a client token whose services/functions claims allow them, or an API key with the services scope\n');
    io.out('ready. SIGTERM or Ctrl-C drains and stops.\n');
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const signal = await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]).finally(() => clearInterval(keepAlive));
    io.out(`meridian region ${name}: ${String(signal[0] ?? 'signal')}: draining (${region.node.sessions} sessions)\n`);
    await region.node.drain();
  } finally {
    await region.close();
    keys?.close();
    await closeBus();
  }
  io.out(`meridian region ${name}: stopped\n`);
  return 0;
}
