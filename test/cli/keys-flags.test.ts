/**
 * `--keys FILE` on `meridian region` and `meridian edge` as operators run them: a real region
 * process reading a keys file made by `meridian keys create` answers its admin endpoints to a
 * key with the admin scope, generates no admin token, and sees a revocation without a restart;
 * a missing or malformed keys file stops both commands at start with KEYS_INVALID_FILE.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { eventually } from '../node/client.js';

const dir = mkdtempSync(join(tmpdir(), 'mrd-keys-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('--keys FILE', () => {
  it('refuses to start region or edge on a missing or malformed keys file', async () => {
    const missing = join(dir, 'missing.json');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"version":1,"keys":[{}]}');
    for (const f of [missing, bad]) {
      const r = await cli(['region', 'eu-west', '--dev', '--port', '0', '--data', dir, '--keys', f]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(f);
      const e = await cli(['edge', '--port', '0', '--regions', 'us-east=http://127.0.0.1:9', '--keys', f]);
      expect(e.code, e.err).toBe(1);
      expect(e.err).toContain(f);
    }
  });

  it('a region process takes its operator credentials from the keys file and follows its changes', async () => {
    const file = join(dir, 'keys.json');
    const made = await cli(['keys', 'create', '--file', file, '--scopes', 'admin', '--json']);
    const { id, key } = JSON.parse(made.out) as { id: string; key: string };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/entry.ts', 'region', 'eu-west', '--dev', '--port', '0', '--data', join(dir, 'data'), '--keys', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MERIDIAN_ADMIN_TOKEN: '' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', () => undefined);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await eventually(() => out.includes('ready.') || child.exitCode !== null, 'the region to listen', 30_000);
      const url = /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(out).toContain(`API key from ${file}`);
      expect(out).not.toContain('admin token');
      expect((await fetch(`${url!}/v1/audit`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      expect((await cli(['keys', 'revoke', '--file', file, id])).code).toBe(0);
      await eventually(async () => (await fetch(`${url!}/v1/audit`, { headers: { authorization: `Bearer ${key}` } })).status === 401, 'the revocation', 2500);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 60_000);
});
