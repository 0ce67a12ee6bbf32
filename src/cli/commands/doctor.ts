/**
 * `meridian doctor`: check a live deployment and print one verdict per line — gateways connected
 * both ways and their RTT against the topology, the JetStream meta leader and quorum (and what
 * losing each region would do), stream and bucket placement, region nodes ready, TLS expiry,
 * clock skew. Exit 1 when any line is FAIL, 0 otherwise (warnings included), 2 on usage errors.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isMeridianError } from '../../errors/mod.js';
import { defaultMonitors, diagnose, exitCode, formatJson, formatTable, parseTargets, topologyNatsUrls } from '../../doctor/mod.js';
import type { Target } from '../../doctor/mod.js';
import { defaultTopology, formatProblem, loadTopology, TopologyError } from '../../topology/mod.js';
import type { Topology } from '../../topology/mod.js';
import { usageGuard, UsageError } from '../command.js';
import type { Command } from '../command.js';

const HELP = `Usage: meridian doctor [--config FILE] [--nats-monitor URLS] [--regions URLS] [--nats URLS]
                       [--ca FILE] [--timeout MS] [--json]

Checks a running deployment and prints check | subject | verdict (ok/warn/FAIL) | detail:
NATS servers, gateways (both ways, RTT vs the topology's WAN), the JetStream meta leader and
quorum (and losing each region), stream/bucket placement, region nodes (/ready, /health), TLS
certificate expiry, clock skew. Exit status: 0 no FAIL, 1 some FAIL, 2 usage error.
  --config FILE        topology file (default: built-in)
  --nats-monitor URLS  NATS monitoring endpoints, region=url pairs, several per region allowed
                       (us-east=http://10.77.1.10:8222,us-east=http://10.77.1.11:8222,...);
                       default: the topology's NATS hosts on deploy.nats.ports.monitor (8222)
  --regions URLS       region node URLs (us-east=http://10.77.1.100:7701,...) for /ready, /health
  --nats URLS          NATS client URLs whose TLS certificates to check (region=url pairs;
                       default: the topology's regions[].nats)
  --ca FILE            the deployment's CA (PEM, e.g. tls/ca.pem from meridian plan): https endpoints
                       and TLS certificates must chain to it (default: system roots; certificates
                       are then only read for their expiry)
  --timeout MS         per request (default 3000)
  --json               one JSON document: {"ok":...,"summary":{...},"checks":[...]}
`;

const options = {
  config: { type: 'string' },
  'nats-monitor': { type: 'string' },
  regions: { type: 'string' },
  nats: { type: 'string' },
  ca: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check a live deployment: gateways, RTT, JetStream quorum, placement, nodes, TLS, clocks',
  async run(argv, io) {
    let values;
    let timeoutMs: number;
    try {
      values = usageGuard('doctor', () => parseArgs({ args: [...argv], options, strict: true })).values;
      if (values.help) {
        io.out(HELP);
        return 0;
      }
      timeoutMs = values.timeout === undefined ? 3000 : Number(values.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError(`meridian doctor: --timeout must be a positive number of ms, not "${values.timeout}"`);
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    let topology: Topology;
    let monitors: Target[];
    let nodes: Target[] | undefined;
    let clients: Target[];
    let ca: string | undefined;
    try {
      topology = values.config !== undefined ? await loadTopology(values.config) : defaultTopology();
    } catch (err) {
      if (err instanceof TopologyError) {
        for (const p of err.problems) io.err(formatProblem(p) + '\n');
        return 1;
      }
      if (isMeridianError(err)) {
        io.err(`meridian doctor: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    try {
      monitors = values['nats-monitor'] !== undefined ? parseTargets(values['nats-monitor'], topology, ['http', 'https'], '--nats-monitor') : defaultMonitors(topology);
      nodes = values.regions !== undefined ? parseTargets(values.regions, topology, ['http', 'https'], '--regions') : undefined;
      if (values.ca !== undefined) {
        const file = values.ca;
        ca = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new UsageError(`meridian doctor: cannot read --ca ${file}: ${err.code ?? err.message}`);
        });
      }
      clients = values.nats !== undefined ? parseTargets(values.nats, topology, ['nats', 'tls'], '--nats') : topologyNatsUrls(topology).filter((t) => /^(nats|tls):/.test(t.url));
    } catch (err) {
      if (isMeridianError(err)) {
        io.err(`meridian doctor: ${err.message}\n\n${HELP}`);
        return 2;
      }
      if (err instanceof UsageError) {
        io.err(`${err.message}\n`);
        return 2;
      }
      throw err;
    }
    if (monitors.length === 0 && nodes === undefined) {
      io.err(`meridian doctor: nothing to check: the topology names no NATS servers; give --nats-monitor and/or --regions\n\n${HELP}`);
      return 2;
    }
    const { lines } = await diagnose({ topology, natsMonitors: monitors, ...(nodes === undefined ? {} : { regionNodes: nodes }), natsClients: clients, timeoutMs, ...(ca === undefined ? {} : { ca }) });
    io.out(values.json === true ? formatJson(lines) : formatTable(lines));
    return exitCode(lines);
  },
};
