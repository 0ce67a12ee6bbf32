/**
 * `meridian edge`: run the edge server — the one entry point clients connect to. It steers each
 * client to a region (GET /v1/route), proxies WebSockets (/ws) and HTTP (/v1/*) there, and
 * probes every region's /ready. Region node URLs come from --regions (--region, the older
 * spelling, is still accepted). SIGINT/SIGTERM close it and exit 0.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { ErrorCode, isMeridianError, MeridianError } from '../../errors/mod.js';
import { edgeAuditFile, openEdgeAuditLog, parseRegionList, startEdge, DEFAULT_EDGE_PORT } from '../../edge/server/mod.js';
import type { AuditLog } from '../../audit/mod.js';
import type { EdgeOptions } from '../../edge/server/mod.js';
import { defaultTopology, formatProblem, loadTopology, TopologyError } from '../../topology/mod.js';
import type { OtlpTracing } from '../../observability/otlp.js';
import { startTracing } from '../tracing.js';
import { isLoopbackListen, usageGuard, UsageError } from '../command.js';
import type { Command } from '../command.js';
import { applyLogLevel, createLogger } from '../../observability/logger.js';
import { KeyRing } from '../../keys/mod.js';

const HELP = `Usage: meridian edge [--config FILE] [--port N] [--host ADDR] --regions name=url,...
                     [--trust-proxy LIST] [--cors LIST] [--keys FILE] [--admin-token T] [--dev-admin]
                     [--data DIR] [--log-level L] [--otlp URL]

Runs the edge: GET /v1/route, WebSocket /ws and HTTP /v1/* proxied to the steered region,
/health, /ready, GET /v1/regions. See docs/edge.md.
  --config FILE        topology file (default: built-in)
  --port N             listen port (default: ${DEFAULT_EDGE_PORT})
  --host ADDR          listen address (default: 127.0.0.1)
  --regions LIST       region node URLs: us-east=http://127.0.0.1:7701,eu-west=http://...
  --region LIST        the same as --regions (older name)
  --trust-proxy LIST   proxies whose X-Forwarded-For is believed (CIDRs, loopback, ...)
  --cors LIST          allowed browser origins, comma separated (credentials allowed), or * (any
                       origin, without credentials); for CORS and WebSocket upgrades. Default: the
                       topology's origins:, else no CORS headers and WebSockets from any origin
  --keys FILE          API keys made by \`meridian keys create\` (or env MERIDIAN_KEYS_FILE), the same
                       file the region nodes read: the admin endpoints (POST /v1/admin/regions/NAME/down|up|drain,
                       the dashboard feed) need Authorization: Bearer <key> with the admin scope.
                       Re-read when it changes (rotation needs no restart)
  --admin-token T      deprecated: a credential with every scope, sent as Authorization: Bearer T; at
                       least 16 characters (or env MERIDIAN_ADMIN_TOKEN)
  --dev-admin          open the admin endpoints without a credential (local development; loopback
                       only; ignored with --keys or --admin-token)
  --data DIR           keep the edge's audit trail (admin actions and refused admin requests, served
                       at GET /v1/audit with the admin scope) in DIR/_edge/audit.db, 90 days; default:
                       in memory, lost when the edge stops
  --log-level L        trace|debug|info|warn|error|fatal|silent for the JSON log lines on stderr
                       (default: env MERIDIAN_LOG_LEVEL, else info)
  --otlp URL           send traces to an OpenTelemetry collector (OTLP/HTTP, e.g. http://127.0.0.1:4318);
                       default: env OTEL_EXPORTER_OTLP_ENDPOINT, else none
Without --keys, --admin-token (or their env vars) and --dev-admin the admin endpoints are off (404).
`;

const options = {
  config: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  regions: { type: 'string' },
  region: { type: 'string' },
  'trust-proxy': { type: 'string' },
  cors: { type: 'string' },
  keys: { type: 'string' },
  'admin-token': { type: 'string' },
  'dev-admin': { type: 'boolean' },
  data: { type: 'string' },
  'log-level': { type: 'string' },
  otlp: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');

export const edgeCommand: Command = {
  name: 'edge',
  summary: 'run the edge: steer clients to regions, proxy /ws and /v1/*, probe region health',
  async run(argv, io) {
    let values;
    let port: number;
    let regionList: string;
    try {
      values = usageGuard('edge', () => parseArgs({ args: [...argv], options, strict: true })).values;
      if (values.help) {
        io.out(HELP);
        return 0;
      }
      port = values.port === undefined ? DEFAULT_EDGE_PORT : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`meridian edge: --port must be 0..65535, not "${values.port}"`);
      if (values.regions !== undefined && values.region !== undefined) throw new UsageError('meridian edge: give --regions or --region (the same option), not both');
      const given = values.regions ?? values.region;
      if (given === undefined) throw new UsageError('meridian edge: --regions or --region is required (name=url for each region node)');
      regionList = given;
      if (values['dev-admin'] === true && !isLoopbackListen(values.host)) {
        throw new UsageError(`meridian edge: --dev-admin opens the admin endpoints to anyone: refused with --host ${values.host ?? ''} (give --admin-token instead)`);
      }
      const t = values['admin-token'];
      if (t !== undefined && t.length < 16) throw new UsageError('meridian edge: --admin-token must be at least 16 characters');
      const badLevel = applyLogLevel(values['log-level']);
      if (badLevel !== undefined) throw new UsageError(`meridian edge: ${badLevel}`);
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    let edge;
    let tracing: OtlpTracing | undefined;
    let keys: KeyRing | undefined;
    let audit: AuditLog | undefined;
    try {
      const topology = values.config !== undefined ? await loadTopology(values.config) : defaultTopology();
      const keysFile = values.keys ?? (process.env['MERIDIAN_KEYS_FILE'] || undefined);
      keys = keysFile === undefined ? undefined : await KeyRing.open(keysFile, { log: createLogger({ base: { component: 'edge', part: 'keys' } }) });
      const token = values['admin-token'] ?? process.env['MERIDIAN_ADMIN_TOKEN'] ?? process.env['MERIDIAN_EDGE_ADMIN_TOKEN'];
      const cors = values.cors === undefined ? undefined : values.cors.trim() === '*' ? '*' : list(values.cors);
      const auditLog = createLogger({ base: { component: 'edge', part: 'audit' } });
      try {
        audit = openEdgeAuditLog(values.data ?? ':memory:', { onError: (err) => auditLog.warn({ event: 'audit_write_failed', err: String(err) }, 'audit entry not written') });
      } catch (cause) {
        throw new MeridianError(ErrorCode.EdgeInvalidConfig, `--data ${values.data ?? ''}: cannot open the audit trail: ${(cause as Error).message}`, { cause });
      }
      const opts: EdgeOptions = {
        topology,
        regionUrls: parseRegionList(regionList),
        port,
        ...(values.host === undefined ? {} : { host: values.host }),
        ...(values['trust-proxy'] === undefined ? {} : { trustedProxies: list(values['trust-proxy']) }),
        // Credentials (the affinity cookie) only for listed origins, never with '*'.
        ...(cors === undefined ? {} : { cors: { origins: cors, credentials: cors !== '*' } }),
        ...(token === undefined || token === '' ? {} : { adminToken: token }),
        ...(keys === undefined ? {} : { keys }),
        devAdmin: values['dev-admin'] === true,
        audit,
      };
      tracing = startTracing('edge', values.otlp);
      edge = await startEdge(opts);
    } catch (err) {
      keys?.close();
      await audit?.close().catch(() => undefined);
      await tracing?.shutdown();
      if (err instanceof TopologyError) {
        for (const p of err.problems) io.err(formatProblem(p) + '\n');
        return 1;
      }
      if (err instanceof UsageError) {
        io.err(`${err.message}\n`);
        return 2;
      }
      if (isMeridianError(err) || (err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        io.err(`meridian edge: ${(err as Error).message}\n`);
        return 1;
      }
      throw err;
    }
    try {
      io.out(`meridian edge: listening on ${edge.url}\n`);
      const hasToken = (values['admin-token'] ?? process.env['MERIDIAN_ADMIN_TOKEN'] ?? process.env['MERIDIAN_EDGE_ADMIN_TOKEN'] ?? '') !== '';
      const credentials = [keys === undefined ? '' : `API keys with the admin scope from ${keys.file} (${keys.size} keys)`, hasToken ? 'the admin token (deprecated)' : ''].filter(Boolean).join(', ');
      const adminState = credentials !== '' ? `on (${credentials})` : values['dev-admin'] === true ? 'OPEN without a token (--dev-admin)' : 'off';
      io.out(`  admin endpoints ${adminState}\n`);
      io.out(`  audit trail     ${values.data === undefined ? 'in memory (give --data DIR to keep it)' : edgeAuditFile(values.data)} (GET /v1/audit)\n`);
      for (const h of edge.monitor.all()) io.out(`  ${h.region.padEnd(14)} ${h.healthy ? 'up' : `down (${h.lastError ?? 'no answer'})`}\n`);
      const unsubscribe = edge.monitor.subscribe((h) => io.out(`meridian edge: ${h.region} ${h.healthy ? 'up' : `down (${h.lastError ?? (h.ejectedUntil !== null ? 'ejected' : 'unknown')})`}\n`));
      const keepAlive = setInterval(() => undefined, 1 << 30);
      const signal = await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]).finally(() => {
        clearInterval(keepAlive);
        unsubscribe();
      });
      io.out(`\nmeridian edge: ${String(signal[0] ?? 'signal')}: stopping\n`);
    } finally {
      await edge.close();
      keys?.close();
      await audit?.close().catch(() => undefined);
      await tracing?.shutdown();
    }
    return 0;
  },
};
