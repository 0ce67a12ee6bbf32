/**
 * The `meridian` command line: one file per subcommand under commands/, registered here.
 * Every command returns its exit code instead of calling process.exit, so it can be tested
 * in-process and so pending output is flushed before the process ends.
 */
import { validateCommand } from './commands/validate.js';
import { upCommand } from './commands/up.js';
import { regionCommand } from './commands/region.js';
import { edgeCommand } from './commands/edge.js';
import { exportCommand } from './commands/export.js';
import { doctorCommand } from './commands/doctor.js';
import { planCommand } from './commands/plan.js';
import { keysCommand } from './commands/keys.js';
import { eraseCommand } from './commands/erase.js';
import type { Command, Io } from './command.js';
import { VERSION } from '../version.js';

const commands: readonly Command[] = [upCommand, regionCommand, edgeCommand, keysCommand, eraseCommand, exportCommand, planCommand, doctorCommand, validateCommand];

function usage(): string {
  const rows = commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n');
  return `meridian ${VERSION}: one runtime for real-time services in many regions\n\nUsage: meridian <command> [options]\n\nCommands:\n${rows}\n\nRun 'meridian <command> --help' for a command's options.\n`;
}

export const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    io.out(`${VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`meridian: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return cmd.run(rest, io);
}
