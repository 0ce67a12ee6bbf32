/**
 * `meridian keys create|list|revoke`: API keys with scopes in a keys file (src/keys,
 * docs/security.md "Credentials and scopes"). `create` prints the new key once and stores only
 * its SHA-256 digest; `list` never shows a secret or a hash; `revoke` removes a key by id. Every
 * change is an atomic rewrite (temp file, rename) with mode 0600, under a lock file. Nodes and
 * the edge started with `--keys FILE` see a change within about a second, without a restart.
 */
import { parseArgs } from 'node:util';
import { isMeridianError } from '../../errors/mod.js';
import { createKey, listKeys, parseExpiry, parseScopes, revokeKey, SCOPES } from '../../keys/mod.js';
import type { KeyInfo } from '../../keys/mod.js';
import { usageGuard, UsageError } from '../command.js';
import type { Command, Io } from '../command.js';

const HELP = `Usage: meridian keys create --file FILE --scopes LIST [--note TEXT] [--expires WHEN] [--json]
       meridian keys list --file FILE [--json]
       meridian keys revoke --file FILE ID [--json]

API keys for operators and server-side senders: \`mrd_<id>_<secret>\`, sent as
Authorization: Bearer <key> to region nodes and the edge started with --keys FILE.
  create           make a key; prints it ONCE (FILE keeps only its SHA-256 digest) and its id
  list             the keys of FILE: id, scopes, created, expiry, note (never a secret or hash)
  revoke ID        remove key ID from FILE; nodes and the edge refuse it within about a second
  --file FILE      the keys file (or env MERIDIAN_KEYS_FILE); created 0600 by create if missing.
                   Every region node and the edge read the same content (distribute it like the
                   topology file)
  --scopes LIST    create: comma separated, among ${SCOPES.join(', ')}:
                     admin     admin endpoints (node drain and audit, edge regions, service listings)
                     send      POST /v1/messages as any user named in "from"
                     services  call services and functions over HTTP
                     dlq       the dead-letter queue (/v1/dlq)
                     erase     erase users and conversations (/v1/erasures, meridian erase)
  --note TEXT      create: what the key is for (at most 200 printable characters)
  --expires WHEN   create: a lifetime (90s, 15m, 12h, 30d, 8w) or a date (2030-01-31,
                   2030-01-31T12:00:00Z); default: never. Expired keys are refused (401)
  --json           print one JSON line (create: {"id","key","scopes","created","expires","note"})
Errors: KEYS_INVALID_SCOPE, KEYS_UNKNOWN_ID, KEYS_INVALID_FILE, KEYS_INVALID_ARGUMENT,
KEYS_FILE_LOCKED (exit 1); usage errors exit 2.
`;

const options = {
  file: { type: 'string' },
  scopes: { type: 'string' },
  note: { type: 'string' },
  expires: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SUBCOMMANDS = ['create', 'list', 'revoke'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

interface KeysArgs {
  readonly sub: Sub;
  readonly file: string;
  readonly json: boolean;
  readonly scopes?: string;
  readonly note?: string;
  readonly expires?: string;
  readonly id?: string;
}

function parse(argv: readonly string[]): KeysArgs | 'help' {
  const { values, positionals } = usageGuard('keys', () => parseArgs({ args: [...argv], options, strict: true, allowPositionals: true }));
  if (values.help) return 'help';
  const [sub, ...rest] = positionals;
  if (sub === undefined) throw new UsageError(`meridian keys: name what to do: ${SUBCOMMANDS.join(', ')}`);
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`meridian keys: unknown subcommand "${sub.slice(0, 40)}" (${SUBCOMMANDS.join(', ')})`);
  const file = values.file ?? (process.env['MERIDIAN_KEYS_FILE'] || undefined);
  if (file === undefined) throw new UsageError('meridian keys: --file FILE is required (or set MERIDIAN_KEYS_FILE)');
  const only = (flag: 'scopes' | 'note' | 'expires'): void => {
    if (values[flag] !== undefined && sub !== 'create') throw new UsageError(`meridian keys ${sub}: --${flag} is for create`);
  };
  only('scopes');
  only('note');
  only('expires');
  if (sub === 'create' && values.scopes === undefined) throw new UsageError(`meridian keys create: --scopes is required (comma separated: ${SCOPES.join(', ')})`);
  if (sub === 'revoke' && rest.length !== 1) throw new UsageError('meridian keys revoke: name exactly one key id');
  if (sub !== 'revoke' && rest.length > 0) throw new UsageError(`meridian keys ${sub}: unexpected argument "${rest[0]!.slice(0, 40)}"`);
  return {
    sub: sub as Sub,
    file,
    json: values.json === true,
    ...(values.scopes === undefined ? {} : { scopes: values.scopes }),
    ...(values.note === undefined ? {} : { note: values.note }),
    ...(values.expires === undefined ? {} : { expires: values.expires }),
    ...(sub === 'revoke' ? { id: rest[0]! } : {}),
  };
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'API keys with scopes: create (shown once), list, revoke, in a keys file',
  async run(argv, io) {
    let args: KeysArgs | 'help';
    try {
      args = parse(argv);
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message}\n\n${HELP}`);
        return 2;
      }
      throw err;
    }
    if (args === 'help') {
      io.out(HELP);
      return 0;
    }
    try {
      await runKeys(args, io);
      return 0;
    } catch (err) {
      if (isMeridianError(err)) {
        io.err(args.json ? `${JSON.stringify({ error: { code: err.code, message: err.message } })}\n` : `meridian keys ${args.sub}: ${err.message} (${err.code})\n`);
        return 1;
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
        io.err(`meridian keys ${args.sub}: ${(err as Error).message}\n`);
        return 1;
      }
      throw err;
    }
  },
};

async function runKeys(a: KeysArgs, io: Io): Promise<void> {
  if (a.sub === 'create') {
    const now = Date.now();
    const scopes = parseScopes(a.scopes ?? '');
    const made = await createKey(a.file, {
      scopes,
      now,
      ...(a.note === undefined ? {} : { note: a.note }),
      ...(a.expires === undefined ? {} : { expiresAt: parseExpiry(a.expires, now) }),
    });
    const r = made.record;
    if (a.json) {
      io.out(`${JSON.stringify({ id: r.id, key: made.key, scopes: r.scopes, created: r.created, expires: r.expires ?? null, note: r.note ?? null, file: a.file })}\n`);
      return;
    }
    io.out(`created API key ${r.id} (${r.scopes.join(', ')}) in ${a.file}, expires ${r.expires ?? 'never'}\n`);
    io.out(`  ${made.key}\n`);
    io.out(`This is the only time the key is shown: ${a.file} keeps only its SHA-256 digest.\n`);
    io.out('Send it as Authorization: Bearer <key>; nodes and the edge reading this file accept it within a second.\n');
    return;
  }
  if (a.sub === 'list') {
    const keys = await listKeys(a.file);
    if (a.json) {
      io.out(`${JSON.stringify({ file: a.file, keys })}\n`);
      return;
    }
    if (keys.length === 0) {
      io.out(`no keys in ${a.file}\n`);
      return;
    }
    io.out(table(keys));
    return;
  }
  const gone = await revokeKey(a.file, a.id!);
  if (a.json) io.out(`${JSON.stringify({ revoked: gone.id, scopes: gone.scopes, file: a.file })}\n`);
  else io.out(`revoked API key ${gone.id} (${gone.scopes.join(', ')}) in ${a.file}; nodes and the edge refuse it within a second\n`);
}

function table(keys: readonly KeyInfo[]): string {
  const rows = [['ID', 'SCOPES', 'CREATED', 'EXPIRES', 'NOTE'], ...keys.map((k) => [k.id, k.scopes.join(','), k.created, k.expires === null ? 'never' : k.expired ? `${k.expires} (expired)` : k.expires, k.note ?? ''])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}
