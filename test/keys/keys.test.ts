/**
 * API keys: `meridian keys create|list|revoke` on a real keys file (the key printed once, only
 * its SHA-256 digest stored, mode 0600, atomic rewrites, typed errors), the expiry and scope
 * parsers, and the KeyRing that nodes and the edge check keys against: it sees a change to the
 * file within about a second, refuses expired and revoked keys, and keeps the last good set
 * when the file is malformed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createKey, hashKey, KeyRing, parseExpiry, parseKeysFile, parseScopes, readKeysFile, revokeKey } from '../../src/keys/mod.js';
import { eventually } from '../node/client.js';

const dir = mkdtempSync(join(tmpdir(), 'mrd-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `keys-${++n}.json`);

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('meridian keys', () => {
  it('creates a key shown once, stores only its hash (0600), lists it without secrets, and revokes it', async () => {
    const file = fresh();
    const made = await cli(['keys', 'create', '--file', file, '--scopes', 'send,admin', '--note', 'deploy bot', '--expires', '30d', '--json']);
    expect(made.err).toBe('');
    expect(made.code).toBe(0);
    const info = JSON.parse(made.out) as { id: string; key: string; scopes: string[]; created: string; expires: string; note: string };
    expect(info.key).toMatch(/^mrd_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(info.key.startsWith(`mrd_${info.id}_`)).toBe(true);
    expect(info.scopes).toEqual(['admin', 'send']);
    expect(Date.parse(info.expires) - Date.parse(info.created)).toBe(30 * 86_400_000);
    expect(info.note).toBe('deploy bot');

    // The file holds the digest, never the key or its secret part.
    const text = readFileSync(file, 'utf8');
    const secret = info.key.slice(`mrd_${info.id}_`.length);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(info.key);
    expect(text).toContain(hashKey(info.key));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const plain = await cli(['keys', 'create', '--file', file, '--scopes', 'dlq']);
    expect(plain.code).toBe(0);
    const second = /\n {2}(mrd_\S+)\n/.exec(plain.out)?.[1];
    expect(second, plain.out).toBeDefined();
    expect(plain.out).toContain('only time the key is shown');

    const listed = await cli(['keys', 'list', '--file', file]);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(info.id);
    expect(listed.out).toContain('admin,send');
    expect(listed.out).toContain('deploy bot');
    expect(listed.out).not.toContain(secret);
    expect(listed.out).not.toContain('sha256:');
    const json = JSON.parse((await cli(['keys', 'list', '--file', file, '--json'])).out) as { keys: Array<Record<string, unknown>> };
    expect(json.keys.map((k) => k['id'])).toEqual([info.id, second!.slice(4, 20)]);
    for (const k of json.keys) expect(Object.keys(k).sort()).toEqual(['created', 'expired', 'expires', 'id', 'note', 'scopes']);

    const revoked = await cli(['keys', 'revoke', '--file', file, info.id]);
    expect(revoked.code).toBe(0);
    expect(revoked.out).toContain(`revoked API key ${info.id}`);
    expect((await readKeysFile(file)).map((r) => r.id)).toEqual([second!.slice(4, 20)]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Atomic rewrites leave no temp or lock files behind.
    expect(readdirSync(dir).filter((f) => f.startsWith(`.${file.split('/').pop()}`) || f.endsWith('.lock'))).toEqual([]);
  });

  it('answers typed errors: bad scopes, unknown id, bad file, bad expiry; usage errors exit 2', async () => {
    const file = fresh();
    const scope = await cli(['keys', 'create', '--file', file, '--scopes', 'admin,root']);
    expect(scope.code).toBe(1);
    expect(scope.err).toContain('KEYS_INVALID_SCOPE');
    const scopeJson = await cli(['keys', 'create', '--file', file, '--scopes', 'admin,admin', '--json']);
    expect(scopeJson.code).toBe(1);
    expect(JSON.parse(scopeJson.err)).toMatchObject({ error: { code: 'KEYS_INVALID_SCOPE' } });
    expect((await cli(['keys', 'create', '--file', file, '--scopes', 'send', '--expires', 'soon'])).err).toContain('KEYS_INVALID_ARGUMENT');
    expect((await cli(['keys', 'list', '--file', file])).err).toContain('KEYS_INVALID_FILE');
    expect((await cli(['keys', 'create', '--file', file, '--scopes', 'send'])).code).toBe(0);
    const unknown = await cli(['keys', 'revoke', '--file', file, '0123456789abcdef']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('KEYS_UNKNOWN_ID');
    writeFileSync(file, '{"version":1,"keys":[{"id":"nope"}]}');
    const bad = await cli(['keys', 'list', '--file', file]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('KEYS_INVALID_FILE');
    expect(bad.err).toContain('keys[0].id');
    // Usage: no subcommand, no file, flags of another subcommand, an unknown flag.
    expect((await cli(['keys'])).code).toBe(2);
    expect((await cli(['keys', 'list'])).code).toBe(2);
    expect((await cli(['keys', 'list', '--file', file, '--scopes', 'send'])).code).toBe(2);
    expect((await cli(['keys', 'create', '--file', file])).code).toBe(2);
    expect((await cli(['keys', 'revoke', '--file', file])).code).toBe(2);
    expect((await cli(['keys', 'list', '--file', file, '--bogus'])).err).toContain("Unknown option '--bogus'");
  });

  it('takes the file from MERIDIAN_KEYS_FILE', async () => {
    const file = fresh();
    process.env['MERIDIAN_KEYS_FILE'] = file;
    try {
      expect((await cli(['keys', 'create', '--scopes', 'erase'])).code).toBe(0);
      expect((await cli(['keys', 'list'])).out).toContain('erase');
    } finally {
      delete process.env['MERIDIAN_KEYS_FILE'];
    }
  });
});

describe('scopes, expiry and the file format', () => {
  it('parse scopes and lifetimes, and refuse what they do not know', () => {
    expect(parseScopes('dlq, admin')).toEqual(['admin', 'dlq']);
    expect(() => parseScopes('')).toThrow(expect.objectContaining({ code: 'KEYS_INVALID_SCOPE' }) as Error);
    expect(parseExpiry('90s', 1000)).toBe(91_000);
    expect(parseExpiry('2h', 0)).toBe(7_200_000);
    expect(parseExpiry('2w', 0)).toBe(14 * 86_400_000);
    expect(parseExpiry('2100-01-01T00:00:00Z', 0)).toBe(Date.parse('2100-01-01T00:00:00Z'));
    expect(() => parseExpiry('2000-01-01', Date.now())).toThrow(expect.objectContaining({ code: 'KEYS_INVALID_ARGUMENT' }) as Error);
    expect(() => parseExpiry('0d', 0)).toThrow(expect.objectContaining({ code: 'KEYS_INVALID_ARGUMENT' }) as Error);
  });

  it('refuses malformed files field by field', () => {
    const ok = { id: '0123456789abcdef', hash: `sha256:${'A'.repeat(43)}`, scopes: ['send'], created: '2030-01-01T00:00:00.000Z' };
    expect(parseKeysFile(JSON.stringify({ version: 1, keys: [ok] }))).toHaveLength(1);
    for (const [doc, where] of [
      ['not json', 'not valid JSON'],
      [{ version: 2, keys: [] }, 'version'],
      [{ version: 1, keys: [ok, ok] }, 'twice'],
      [{ version: 1, keys: [{ ...ok, scopes: ['root'] }] }, 'keys[0].scopes'],
      [{ version: 1, keys: [{ ...ok, scopes: [] }] }, 'keys[0].scopes'],
      [{ version: 1, keys: [{ ...ok, hash: 'plain' }] }, 'keys[0].hash'],
      [{ version: 1, keys: [{ ...ok, secret: 'x' }] }, 'unknown field'],
      [{ version: 1, keys: [{ ...ok, expires: 'tomorrow' }] }, 'keys[0].expires'],
    ] as const) {
      expect(() => parseKeysFile(typeof doc === 'string' ? doc : JSON.stringify(doc), 'f.json')).toThrow(expect.objectContaining({ code: 'KEYS_INVALID_FILE', message: expect.stringContaining(where) as string }) as Error);
    }
  });
});

describe('KeyRing', () => {
  it('checks keys by id and digest, sees revocations and additions within a second, refuses expired keys', async () => {
    const file = fresh();
    const a = await createKey(file, { scopes: ['admin'] });
    let now = Date.now();
    const ring = await KeyRing.open(file, { pollMs: 100, clock: () => now });
    const changes: unknown[] = [];
    ring.onChange((c) => changes.push(c));
    try {
      expect(ring.check(a.key)).toMatchObject({ ok: true, id: a.record.id });
      const found = ring.check(a.key);
      expect(found?.ok === true ? [...found.scopes] : []).toEqual(['admin']);
      // Right id, wrong secret: unknown. Not key-shaped: not a key at all.
      expect(ring.check(`${a.key.slice(0, -4)}AAAA`)).toMatchObject({ ok: false, reason: 'unknown' });
      expect(ring.check('eyJhbGciOi.x.y')).toBeUndefined();
      const b = await createKey(file, { scopes: ['send'], expiresAt: now + 60_000 });
      await eventually(() => ring.check(b.key)?.ok === true, 'the new key', 2000);
      now += 60_000;
      expect(ring.check(b.key)).toMatchObject({ ok: false, reason: 'expired' });
      await revokeKey(file, a.record.id);
      await eventually(() => ring.check(a.key)?.ok === false, 'the revocation', 2000);
      expect(changes).toEqual([
        { added: [b.record.id], removed: [], changed: [], count: 2 },
        { added: [], removed: [a.record.id], changed: [], count: 1 },
      ]);
    } finally {
      ring.close();
    }
  });

  it('keeps the last good set when the file is malformed or missing, and takes the next good one', async () => {
    const file = fresh();
    const a = await createKey(file, { scopes: ['admin'] });
    const ring = await KeyRing.open(file, { pollMs: 100 });
    try {
      writeFileSync(file, '{"version":1,"keys":[{"id":');
      await eventually(() => ring.lastError !== undefined, 'the malformed file to be seen', 2000);
      expect(ring.lastError).toContain('not valid JSON');
      expect(ring.check(a.key)).toMatchObject({ ok: true });
      rmSync(file);
      await eventually(() => ring.lastError?.includes('no such keys file') === true, 'the missing file to be seen', 2000);
      expect(ring.check(a.key)).toMatchObject({ ok: true });
      const b = await createKey(file, { scopes: ['dlq'] });
      await eventually(() => ring.check(b.key)?.ok === true, 'the good file', 2000);
      expect(ring.lastError).toBeUndefined();
      expect(ring.check(a.key)).toMatchObject({ ok: false, reason: 'unknown' });
    } finally {
      ring.close();
    }
    await expect(KeyRing.open(join(dir, 'none.json'))).rejects.toMatchObject({ code: 'KEYS_INVALID_FILE' });
  });
});
