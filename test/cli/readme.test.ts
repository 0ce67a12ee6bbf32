/**
 * README and the CLI agree: every `meridian …` command line README shows (in inline code, the
 * Commands table, or a shell block) names a real command, every flag it shows is in that
 * command's --help and accepted by its parser with the arity README implies, and unknown flags
 * are refused. It reads whatever README documents, so rows added later are checked the same way.
 *
 * Lines are run with `--help` appended: every command prints its help once the arguments have
 * parsed (strictly) and before it starts anything, so no server is started here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** `meridian …` command lines shown in README, as written (table escapes `\|` undone). */
export function commandLines(md: string): string[] {
  const lines = new Set<string>();
  const fences = md.split(/^```.*$/m);
  fences.forEach((part, i) => {
    if (i % 2 === 1) {
      // Inside a fenced block: shell lines that run meridian.
      for (const l of part.split('\n')) {
        const m = /^\s*(?:\$\s+)?(?:npx\s+)?(meridian\s+[a-z].*?)\s*$/.exec(l);
        if (m) lines.add(m[1]!.replace(/\s+#.*$/, ''));
      }
    } else {
      for (const m of part.matchAll(/`(meridian [a-z][^`]*)`/g)) lines.add(m[1]!.replace(/\\\|/g, '|'));
    }
  });
  return [...lines];
}

/** argv for a documented line: placeholders kept as values, brackets and `|` separators dropped. */
export function argvOf(line: string): string[] {
  return line
    .replace(/[[\]]/g, ' ')
    .split(/\s+/)
    .filter((t) => t !== '' && t !== '|')
    .slice(1);
}

const flagsOf = (line: string): string[] => [...new Set(argvOf(line).filter((t) => /^--[a-z][a-z0-9-]*$/.test(t)))];

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

const lines = commandLines(README);
const table = README.slice(README.indexOf('## Commands'), README.indexOf('\n## ', README.indexOf('## Commands') + 1));
const tableCommands = [...new Set(commandLines(table).map((l) => argvOf(l)[0]!))];
const commands = [...new Set(lines.map((l) => argvOf(l)[0]!))];

describe('README documents the CLI as it is', () => {
  it('finds the command lines, and the Commands table lists every command, plan and doctor included', async () => {
    expect(lines.length).toBeGreaterThanOrEqual(tableCommands.length);
    const usage = (await run(['--help'])).out;
    const registered = [...usage.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!);
    expect(registered.length).toBeGreaterThan(0);
    expect(tableCommands.sort()).toEqual([...registered].sort());
    expect(tableCommands).toEqual(expect.arrayContaining(['plan', 'doctor']));
  });

  it.each(lines.map((l) => [l]))('runs `%s --help`', async (line) => {
    const argv = argvOf(line);
    const r = await run([...argv, '--help']);
    expect(r.err, `README line: ${line}`).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Usage: meridian ${argv[0]!}\\b`));
  });

  it.each(commands.map((c) => [c]))('`meridian %s --help` documents every flag README shows for it', async (cmd) => {
    const help = (await run([cmd, '--help'])).out;
    const documented = lines.filter((l) => argvOf(l)[0] === cmd).flatMap(flagsOf);
    for (const flag of new Set(documented)) expect(help, `${flag} is in README but not in meridian ${cmd} --help`).toMatch(new RegExp(`(^|[\\s[|,])${flag}(?![\\w-])`, 'm'));
  });

  it.each(commands.map((c) => [c]))('`meridian %s` refuses an unknown flag', async (cmd) => {
    const r = await run([cmd, '--no-such-flag', '--help']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Unknown option '--no-such-flag'");
  });
});

describe('the README line extraction', () => {
  it('reads inline code, table cells with escaped bars, and shell blocks', () => {
    const md = [
      '| `meridian up [--bus embedded\\|nats] [--json]` | x |',
      'see `meridian.yaml` and `meridian <command>`',
      '```sh',
      '$ meridian doctor --regions us-east=http://a:7701   # check',
      'npm start',
      '```',
    ].join('\n');
    expect(commandLines(md)).toEqual(['meridian up [--bus embedded|nats] [--json]', 'meridian doctor --regions us-east=http://a:7701']);
    expect(argvOf('meridian region NAME [--auth-secret S | --auth-public-key FILE] [--dev]')).toEqual(['region', 'NAME', '--auth-secret', 'S', '--auth-public-key', 'FILE', '--dev']);
    expect(flagsOf('meridian up [--bus embedded|nats] [--json]')).toEqual(['--bus', '--json']);
  });
});
