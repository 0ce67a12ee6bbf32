/**
 * `meridian up`: start every region of the topology. With the embedded bus (the default) all
 * regions live in this process, joined by the simulated WAN; with `--bus nats` each region
 * attaches to its own NATS cluster of a super-cluster. Until region nodes exist, it starts each
 * region's bus, answers pings on it, measures the round trip between every pair of regions and
 * prints what runs. SIGINT/SIGTERM close everything and exit 0.
 */
import { once } from 'node:events';
import { loadTopology, defaultTopology, TopologyError, formatProblem } from '../../topology/mod.js';
import type { Topology } from '../../topology/mod.js';
import { isMeridianError } from '../../errors/mod.js';
import { parseArgs } from 'node:util';
import { usageGuard, UsageError } from '../command.js';
import type { Command, Io } from '../command.js';
import { startRegionBuses } from '../../runtime/buses.js';
import type { BusKind } from '../../runtime/buses.js';
import { measureRtts } from '../../runtime/ping.js';

const HELP = `Usage: meridian up [--config FILE] [--bus embedded|nats] [--nats URL,...]

Starts every region of the topology (default: the built-in us-east, eu-west, ap-southeast).
  --config FILE   topology file (default: built-in)
  --bus KIND      embedded (default): all regions in this process over a simulated WAN
                  nats: each region on its NATS cluster (urls from the topology, or --nats)
  --nats URLS     with --bus nats: region=url pairs, comma separated
                  (us-east=nats://127.0.0.1:4222,eu-west=...); overrides the topology's urls
Ctrl-C (SIGINT) or SIGTERM stops it.
`;

const options = {
  config: { type: 'string' },
  bus: { type: 'string', default: 'embedded' },
  nats: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const upCommand: Command = {
  name: 'up',
  summary: 'start every region of the topology (embedded: one process, simulated WAN)',
  async run(argv, io) {
    let values;
    try {
      values = usageGuard('up', () => parseArgs({ args: [...argv], options, strict: true })).values;
      if (values.help) {
        io.out(HELP);
        return 0;
      }
      if (values.bus !== 'embedded' && values.bus !== 'nats') throw new UsageError(`meridian up: --bus must be embedded or nats, not "${values.bus}"`);
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    let topology: Topology;
    try {
      topology = values.config ? await loadTopology(values.config) : defaultTopology();
    } catch (err) {
      if (err instanceof TopologyError) {
        for (const p of err.problems) io.err(formatProblem(p) + '\n');
        return 1;
      }
      if (isMeridianError(err)) {
        io.err(`meridian up: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    return runUp(topology, values.bus, values.nats, io);
  },
};

async function runUp(topology: Topology, kind: BusKind, nats: string | undefined, io: Io): Promise<number> {
  let fabric;
  try {
    fabric = await startRegionBuses(topology, kind, nats);
  } catch (err) {
    if (isMeridianError(err) || err instanceof UsageError) {
      io.err(`meridian up: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    io.out(`meridian up: ${topology.regions.length} regions on the ${kind} bus\n`);
    const rtts = await measureRtts(fabric.buses);
    for (const r of topology.regions) {
      const row = topology.regions
        .filter((o) => o.name !== r.name)
        .map((o) => `${o.name} ${formatMs(rtts.get(`${r.name}|${o.name}`))}`)
        .join(', ');
      io.out(`  ${r.name.padEnd(14)} ${(r.location.city ?? '').padEnd(12)} ${r.jurisdiction.padEnd(4)} rtt → ${row}\n`);
    }
    io.out('ready. Ctrl-C to stop.\n');
    // Signal listeners do not keep Node's event loop alive, and the bus's timers are unref'd.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const signal = await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]).finally(() => clearInterval(keepAlive));
    io.out(`\nmeridian up: ${String(signal[0] ?? 'signal')}: stopping\n`);
  } finally {
    await fabric.close();
  }
  return 0;
}

function formatMs(ms: number | undefined): string {
  return ms === undefined ? 'unreachable' : `${ms.toFixed(1)} ms`;
}
