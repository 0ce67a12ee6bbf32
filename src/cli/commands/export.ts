/**
 * `meridian export cloudflare-lb [--config FILE] [--hostname NAME] [--region name=url,...]`:
 * print the topology as Cloudflare Load Balancing JSON (monitor, pools, load balancer). Only
 * Cloudflare for now; the target is a positional so others can follow.
 */
import { parseArgs } from 'node:util';
import { isMeridianError } from '../../errors/mod.js';
import { cloudflareLb } from '../../edge/cloudflare.js';
import { parseRegionList } from '../../edge/server/options.js';
import { defaultTopology, formatProblem, loadTopology, TopologyError } from '../../topology/mod.js';
import { usageGuard, UsageError } from '../command.js';
import type { Command } from '../command.js';

const HELP = `Usage: meridian export cloudflare-lb [--config FILE] [--hostname NAME] [--region name=url,...]

Prints the equivalent Cloudflare Load Balancing configuration as JSON: a monitor on /ready, one
pool per region with its coordinates, and the load balancer (steering policy, country pools,
default and fallback pools, cookie session affinity). See docs/edge.md, "Cloudflare export".
  --config FILE     topology file (default: built-in)
  --hostname NAME   the load balancer's DNS name (default: edge.example.com)
  --region LIST     origin per region, name=url pairs, comma separated (default: placeholders)
`;

const options = {
  config: { type: 'string' },
  hostname: { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const exportCommand: Command = {
  name: 'export',
  summary: 'print the topology as another system\'s configuration (cloudflare-lb)',
  async run(argv, io) {
    let values;
    try {
      const parsed = usageGuard('export', () => parseArgs({ args: [...argv], options, strict: true, allowPositionals: true }));
      values = parsed.values;
      if (values.help) {
        io.out(HELP);
        return 0;
      }
      const [target, ...extra] = parsed.positionals;
      if (target !== 'cloudflare-lb' || extra.length > 0) throw new UsageError(`meridian export: the target must be cloudflare-lb${target === undefined ? '' : `, not "${[target, ...extra].join(' ')}"`}`);
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    try {
      const topology = values.config !== undefined ? await loadTopology(values.config) : defaultTopology();
      const urls = values.region === undefined ? undefined : parseRegionList(values.region);
      const origins = urls === undefined ? undefined : Object.fromEntries(Object.entries(urls).map(([k, u]) => [k, URL.canParse(u) ? new URL(u).hostname : u]));
      const out = cloudflareLb(topology, { ...(values.hostname === undefined ? {} : { hostname: values.hostname }), ...(origins === undefined ? {} : { origins }) });
      io.out(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    } catch (err) {
      if (err instanceof TopologyError) {
        for (const p of err.problems) io.err(formatProblem(p) + '\n');
        return 1;
      }
      if (isMeridianError(err)) {
        io.err(`meridian export: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
