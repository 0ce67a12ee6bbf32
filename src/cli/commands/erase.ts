/**
 * `meridian erase`: ask a region node to erase a user or a conversation in every region and
 * replica (`POST /v1/erasures`), optionally wait for every region to confirm, and verify a saved
 * receipt against the regions' published keys (docs/residency.md, "Erasure").
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import { verifyReceipt } from '../../erasure/mod.js';
import type { ErasureStatus, Jwks } from '../../erasure/mod.js';
import { usageGuard, UsageError } from '../command.js';
import type { Command, Io } from '../command.js';

const HELP = `Usage: meridian erase --url URL --key KEY (--user ID | --conversation ID) [--wait] [--timeout MS] [--json]
       meridian erase --verify FILE [--url URL] [--json]

Erase a user (every message they sent, their inbox index entries, cursors, presence, dead letters
and invocation records naming them) or a conversation (its messages, inbox entries and cursors)
in every region and replica, through any region node.
  --url URL            a region node, e.g. http://127.0.0.1:7701
  --key KEY            an API key with the erase scope (or env MERIDIAN_ERASE_KEY); the admin key
                       \`meridian up\` prints has every scope
  --user ID | --conversation ID
                       what to erase (conversation ids: dm:<a>:<b>, room:<id>)
  --wait               wait until every region has confirmed, then print the status and receipt
  --timeout MS         with --wait: give up after this long (default 120000; exit 1)
  --json               print JSON: the request, or with --wait the status with its receipt and the
                       regions' keys (save it to a file for --verify)
  --verify FILE        verify a receipt: FILE holds the compact JWS, or the JSON --wait --json
                       printed. Keys come from --url (GET /v1/erasures/keys: trust your nodes),
                       else from the "jwks" in FILE (that only shows the receipt is intact)
Exit 0 on success, 1 on a refused request, a timeout or a receipt that does not verify, 2 on usage errors.
`;

const options = {
  url: { type: 'string' },
  key: { type: 'string' },
  user: { type: 'string' },
  conversation: { type: 'string' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  verify: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type EraseArgs =
  | { readonly mode: 'erase'; readonly url: string; readonly key: string; readonly subject: { user: string } | { conversation: string }; readonly wait: boolean; readonly timeoutMs: number; readonly json: boolean }
  | { readonly mode: 'verify'; readonly file: string; readonly url?: string; readonly json: boolean };

function parse(argv: readonly string[]): EraseArgs | 'help' {
  const { values, positionals } = usageGuard('erase', () => parseArgs({ args: [...argv], options, strict: true, allowPositionals: true }));
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`meridian erase: unexpected argument "${positionals[0]!.slice(0, 40)}"`);
  const url = values.url?.replace(/\/+$/, '');
  if (values.verify !== undefined) {
    if (values.user !== undefined || values.conversation !== undefined || values.wait) throw new UsageError('meridian erase --verify: takes only FILE, --url and --json');
    return { mode: 'verify', file: values.verify, json: values.json === true, ...(url === undefined ? {} : { url }) };
  }
  if (url === undefined) throw new UsageError('meridian erase: --url URL (a region node) is required');
  const key = values.key ?? (process.env['MERIDIAN_ERASE_KEY'] || undefined);
  if (key === undefined) throw new UsageError('meridian erase: --key KEY (an API key with the erase scope) is required, or set MERIDIAN_ERASE_KEY');
  if ((values.user === undefined) === (values.conversation === undefined)) throw new UsageError('meridian erase: name exactly one of --user and --conversation');
  const timeoutMs = values.timeout === undefined ? 120_000 : Number(values.timeout);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('meridian erase: --timeout takes a positive number of milliseconds');
  const subject = values.user !== undefined ? { user: values.user } : { conversation: values.conversation! };
  return { mode: 'erase', url, key, subject, wait: values.wait === true, timeoutMs, json: values.json === true };
}

async function call(url: string, path: string, key: string | undefined, body?: unknown): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new MeridianError(ErrorCode.ErasureUnavailable, `${url} did not answer: ${(err as Error).message}`, { cause: err });
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const e = json['error'] as { code?: string; message?: string } | undefined;
    throw new MeridianError(res.status === 400 ? ErrorCode.ErasureInvalid : res.status === 404 ? ErrorCode.ErasureNotFound : ErrorCode.ErasureUnavailable, `${path}: ${res.status} ${e?.code ?? ''} ${e?.message ?? ''}`.trim(), { details: { status: res.status } });
  }
  return json;
}

const table = (s: ErasureStatus): string =>
  s.regions.map((r) => (r.state === 'done' ? `  ${r.region.padEnd(16)} done ${new Date(r.at).toISOString()}  ${Object.entries(r.counts).map(([k, n]) => `${k} ${n}`).join(', ')}` : `  ${r.region.padEnd(16)} pending`)).join('\n');

async function runErase(a: Extract<EraseArgs, { mode: 'erase' }>, io: Io): Promise<number> {
  const req = await call(a.url, '/v1/erasures', a.key, a.subject);
  const id = req['id'] as string;
  if (!a.wait) {
    io.out(a.json ? `${JSON.stringify(req)}\n` : `erasure ${id} requested; status: meridian erase … or GET ${a.url}/v1/erasures/${id}\n`);
    return 0;
  }
  const until = Date.now() + a.timeoutMs;
  for (;;) {
    const s = (await call(a.url, `/v1/erasures/${id}`, a.key)) as unknown as ErasureStatus;
    if (s.complete) {
      const jwks = (await call(a.url, '/v1/erasures/keys', undefined)) as unknown as Jwks;
      io.out(a.json ? `${JSON.stringify({ ...s, jwks })}\n` : `erasure ${id} complete in every region:\n${table(s)}\nreceipt: ${s.receipt}\n`);
      return 0;
    }
    if (Date.now() >= until) {
      io.err(a.json ? `${JSON.stringify({ error: { code: 'TIMEOUT', message: 'not every region confirmed in time' }, status: s })}\n` : `meridian erase: ${id} not complete after ${a.timeoutMs} ms (a region may be down: it erases when it returns):\n${table(s)}\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function runVerify(a: Extract<EraseArgs, { mode: 'verify' }>, io: Io): Promise<number> {
  const text = readFileSync(a.file, 'utf8').trim();
  let receipt = text;
  let jwks: Jwks | undefined;
  if (text.startsWith('{')) {
    const doc = JSON.parse(text) as { receipt?: string; jwks?: Jwks };
    if (typeof doc.receipt !== 'string') throw new MeridianError(ErrorCode.ErasureReceiptInvalid, `${a.file} holds no receipt (save the output of --wait --json)`);
    receipt = doc.receipt;
    jwks = doc.jwks;
  }
  if (a.url !== undefined) jwks = (await call(a.url, '/v1/erasures/keys', undefined)) as unknown as Jwks;
  if (jwks === undefined) throw new UsageError('meridian erase --verify: pass --url URL for the regions\' keys (the file has none)');
  const p = await verifyReceipt(receipt, jwks);
  io.out(
    a.json
      ? `${JSON.stringify({ valid: true, keysFrom: a.url ?? 'file', ...p })}\n`
      : `receipt valid (keys from ${a.url ?? 'the file'}): erasure ${p.id} of ${JSON.stringify(p.subject)}, complete ${new Date(p.completedAt).toISOString()}\n${p.regions.map((r) => `  ${r.region.padEnd(16)} ${Object.entries(r.counts).map(([k, n]) => `${k} ${n}`).join(', ')}`).join('\n')}\n`,
  );
  return 0;
}

export const eraseCommand: Command = {
  name: 'erase',
  summary: 'erase a user or conversation in every region and replica; verify a receipt',
  async run(argv, io) {
    let args: EraseArgs | 'help' | undefined;
    try {
      args = parse(argv);
      if (args === 'help') {
        io.out(HELP);
        return 0;
      }
      return await (args.mode === 'erase' ? runErase(args, io) : runVerify(args, io));
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`${err.message}\n\n${HELP}`);
        return 2;
      }
      const json = args !== undefined && args !== 'help' && args.json;
      if (isMeridianError(err)) {
        io.err(json ? `${JSON.stringify({ error: { code: err.code, message: err.message } })}\n` : `meridian erase: ${err.message} (${err.code})\n`);
        return 1;
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
        io.err(`meridian erase: ${(err as Error).message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
