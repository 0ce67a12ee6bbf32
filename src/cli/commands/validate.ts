/**
 * `meridian validate [FILE...]`: check topology files. Exit 0 when every file is valid; otherwise
 * print every problem as `file:line:column path: reason` and exit 1.
 */
import { isMeridianError } from '../../errors/mod.js';
import { loadTopology, TopologyError, formatProblem, topologyWarnings } from '../../topology/mod.js';
import { parseArgs } from 'node:util';
import { usageGuard, UsageError } from '../command.js';
import type { Command } from '../command.js';

const HELP = `Usage: meridian validate [FILE...]

Checks topology files (default: ./meridian.yaml): YAML syntax, schema, and cross-references
(fallback and pool regions, duplicate names, coordinates, weights summing to 1, residency
rules no region can serve or that leave some user or room nowhere to be stored). Warnings
(a residency rule placing data in a single region: no failover) go to standard error and do
not fail the check.
Exit status: 0 all valid, 1 problems found, 2 usage error.
`;

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check topology files and report every problem with its line and column',
  async run(argv, io) {
    let files: string[];
    try {
      const { values, positionals } = usageGuard('validate', () =>
        parseArgs({ args: [...argv], options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }),
      );
      if (values.help) {
        io.out(HELP);
        return 0;
      }
      files = positionals.length ? positionals : ['meridian.yaml'];
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    let failed = false;
    for (const file of files) {
      try {
        const t = await loadTopology(file);
        io.out(`${file}: ok (${t.regions.length} region${t.regions.length === 1 ? '' : 's'}: ${t.regions.map((r) => r.name).join(', ')})\n`);
        for (const w of topologyWarnings(t)) io.err(`${file}: warning: ${w.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').slice(1)}: ${w.message}\n`);
      } catch (err) {
        failed = true;
        if (err instanceof TopologyError) {
          for (const p of err.problems) io.err(formatProblem(p) + '\n');
        } else if (isMeridianError(err)) {
          io.err(`${file}: ${err.message}\n`);
        } else {
          throw err;
        }
      }
    }
    return failed ? 1 : 0;
  },
};
