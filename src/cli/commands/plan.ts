/**
 * `meridian plan --out DIR [--config FILE] [--only LIST] [--force] [--local]`: write a deployment
 * of the topology (NATS super-cluster, VPN, Kubernetes, haproxy, Cloudflare) into DIR, with a
 * README.md saying what goes where. A topology that cannot be planned is refused with every
 * problem as `file:line:column path: reason`, like `meridian validate`. Only file names are
 * printed: keys and seeds stay in their 0600 files.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { assertWritable, parseTargets, pathText, planDeployment, PlanError, writePlanFiles } from '../../deploy/mod.js';
import type { PlanProblem, PlanTarget } from '../../deploy/mod.js';
import { isMeridianError } from '../../errors/mod.js';
import { DEFAULT_TOPOLOGY_YAML, formatProblem, parseTopology, TopologyError } from '../../topology/mod.js';
import type { Topology } from '../../topology/mod.js';
import { usageGuard, UsageError } from '../command.js';
import type { Command, Io } from '../command.js';

const HELP = `Usage: meridian plan --out DIR [--config FILE] [--only nats,vpn,k8s,haproxy,cloudflare] [--force] [--local]

Writes a deployment of the topology into DIR, with DIR/README.md saying what every file is and
where it goes. Same topology, same files, except keys and what embeds them (see the README).
  --out DIR       output directory; must be empty or missing unless --force
  --config FILE   topology file (default: built-in)
  --only LIST     targets, comma separated (default: all): nats (super-cluster configs, TLS,
                  NKEY credentials, region node settings), vpn (Nebula), k8s (manifests),
                  haproxy (edge), cloudflare (load balancer JSON). By default, vpn is skipped
                  with a warning when its lighthouses have no public address (deploy.hosts);
                  --only vpn refuses instead
  --force         write into a non-empty DIR: overwrite, and remove files of the previous plan
                  that this one no longer has; its secrets are kept (delete them to rotate): the
                  NATS CA and NKEY seeds, the Nebula CA and host keys, and the Kubernetes auth
                  secret, worker and admin tokens
  --local         every host on 127.0.0.1 with free ports and paths inside DIR, to run the
                  whole deployment on this machine (ports in DIR/local/ports.json)
Secret files (keys, NKEY seeds) are written 0600 and never printed.
`;

const options = {
  config: { type: 'string' },
  out: { type: 'string' },
  only: { type: 'string' },
  force: { type: 'boolean' },
  local: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `file:line:column` of a path in the YAML text (the deepest node that exists on it). */
function locator(text: string, file: string): (p: PlanProblem) => string {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  return (p) => {
    let pos = { line: 1, col: 1 };
    for (let n = p.path.length; n >= 0; n--) {
      const node: unknown = n === 0 ? doc.contents : doc.getIn(p.path.slice(0, n), true);
      if (isNode(node) && node.range) {
        pos = lc.linePos(node.range[0]);
        break;
      }
    }
    return formatProblem({ file, line: pos.line, column: pos.col, path: pathText(p.path), message: p.message });
  };
}

/** Operator TLS paths are relative to the topology file. */
function resolveTlsPaths(topology: Topology, base: string): Topology {
  const tls = topology.deploy.nats.tls;
  if (tls === undefined) return topology;
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  return { ...topology, deploy: { ...topology.deploy, nats: { ...topology.deploy.nats, tls: { ca: abs(tls.ca), cert: abs(tls.cert), key: abs(tls.key) } } } };
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'write a deployment (NATS, VPN, Kubernetes, haproxy, Cloudflare) of the topology',
  async run(argv, io) {
    let values;
    let only: PlanTarget[] | undefined;
    try {
      values = usageGuard('plan', () => parseArgs({ args: [...argv], options, strict: true, allowPositionals: false })).values;
      if (values.help) {
        io.out(HELP);
        return 0;
      }
      if (values.out === undefined || values.out === '') throw new UsageError('meridian plan: --out DIR is required');
      if (values.only !== undefined) {
        try {
          only = parseTargets(values.only);
        } catch (err) {
          throw new UsageError(`meridian plan: --only: ${(err as Error).message}`);
        }
      }
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    return runPlan(values.out, values.config, only, values.force === true, values.local === true, io);
  },
};

async function runPlan(out: string, config: string | undefined, only: PlanTarget[] | undefined, force: boolean, local: boolean, io: Io): Promise<number> {
  const file = config ?? '<built-in default>';
  let text = DEFAULT_TOPOLOGY_YAML;
  try {
    if (config !== undefined) text = await readFile(config, 'utf8');
    const topology = resolveTlsPaths(parseTopology(text, file), config === undefined ? process.cwd() : dirname(resolve(config)));
    await assertWritable(resolve(out), force);
    const plan = await planDeployment(topology, { outDir: out, local, ...(only === undefined ? {} : { only }) });
    const where = locator(text, file);
    for (const w of plan.warnings) io.err(`warning: ${where(w)}\n`);
    await writePlanFiles(out, plan.files, { force });
    io.out(`meridian plan: ${plan.targets.join(', ')} for ${topology.regions.length} regions${local ? ' (--local: all on 127.0.0.1)' : ''} → ${out}\n`);
    for (const s of plan.skipped) io.out(`  not planned: ${s.target}: ${s.reason}\n`);
    const kept = new Set(plan.reused);
    const tokens = new Set(plan.reusedTokens);
    const note = (path: string): string => (kept.has(path) ? '  (kept from the previous plan)' : tokens.has(path) ? '  (auth secret, worker and admin tokens kept from the previous plan)' : '');
    for (const f of plan.files) io.out(`  ${f.path}${f.secret ? '  (secret, 0600)' : ''}${note(f.path)}\n`);
    io.out(`See ${resolve(out, 'README.md')} for what goes where.\n`);
    return 0;
  } catch (err) {
    if (err instanceof PlanError) {
      const where = locator(text, file);
      for (const w of err.warnings) io.err(`warning: ${where(w)}\n`);
      for (const p of err.problems) io.err(`${where(p)}\n`);
      return 1;
    }
    if (err instanceof TopologyError) {
      for (const p of err.problems) io.err(formatProblem(p) + '\n');
      return 1;
    }
    if (isMeridianError(err) || (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EACCES') {
      io.err(`meridian plan: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}
