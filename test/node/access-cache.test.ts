/**
 * The node's credential reading (src/node/access.ts) hashes a request's credential once and
 * remembers verified client JWTs by that hash: where such a cache could go wrong. A remembered
 * JWT is refused once its `exp` passes; another token (a forged signature, another user) is
 * never answered from the cache; the cache stays bounded; an API key revoked from the keys file
 * is refused from the reload on (keys are not cached); the rate-limit key follows the credential.
 * Real parts throughout: node:http requests, the node's Authenticator (HS256 via jose), a KeyRing
 * on a keys file edited with createKey / revokeKey.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, KeyRing, revokeKey } from '../../src/keys/mod.js';
import type { Caller } from '../../src/keys/caller.js';
import { AccessControl, JWT_CACHE_MAX, JWT_CACHE_MS } from '../../src/node/access.js';
import { Authenticator } from '../../src/node/auth.js';
import { SECRET, hsToken, oneRegion } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mrd-access-cache-'));
const file = join(dir, 'keys.json');
let ring: KeyRing;
let server: Server;
let url: string;
let access: AccessControl;
let now = Date.now();
/** Each request's verdict as the test server saw it, and its rate key. */
let handler: (req: IncomingMessage) => Promise<unknown>;

async function ask(token: string | undefined): Promise<{ caller: Caller; rateKey: string }> {
  const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return (await res.json()) as { caller: Caller; rateKey: string };
}

beforeAll(async () => {
  await createKey(file, { scopes: ['admin'], note: 'placeholder' });
  ring = await KeyRing.open(file, { pollMs: 0 });
  const auth = new Authenticator({ hs256Secret: SECRET }, oneRegion());
  // The cache's clock, moved by the tests; jose checks `exp` against the real time.
  access = new AccessControl(auth, undefined, ring, { clock: () => now });
  handler = async (req) => ({ caller: await access.caller(req), rateKey: access.rateKey(req) });
  server = createServer((req, res) => {
    void handler(req).then((body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  ring.close();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('verified JWTs, remembered by hash', () => {
  it('verifies a token once, then answers from the cache until JWT_CACHE_MS has passed', async () => {
    now = Date.now();
    const token = await hsToken({ sub: 'alice', services: ['billing'] });
    const before = access.rememberedTokens;
    const first = await ask(token);
    expect(first.caller).toMatchObject({ kind: 'user', user: 'alice' });
    expect(access.rememberedTokens).toBe(before + 1);
    const again = await ask(token);
    expect(again.caller).toMatchObject({ kind: 'user', user: 'alice' });
    expect(access.rememberedTokens).toBe(before + 1);
    // Past the cache's lifetime the entry is dropped and the token verified (and remembered) again.
    now += JWT_CACHE_MS + 1;
    expect((await ask(token)).caller).toMatchObject({ kind: 'user', user: 'alice' });
    expect(access.rememberedTokens).toBe(before + 1);
  });

  it('refuses a remembered token once its exp has passed', async () => {
    now = Date.now();
    // exp is in whole seconds: 1-2 s from now.
    const token = await hsToken({ sub: 'bob' }, { expSec: 2 });
    expect((await ask(token)).caller).toMatchObject({ kind: 'user', user: 'bob' });
    expect((await ask(token)).caller).toMatchObject({ kind: 'user', user: 'bob' });
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };
    while (Date.now() < exp * 1000 + 50) await new Promise((r) => setTimeout(r, 100));
    now = Date.now();
    const after = await ask(token);
    expect(after.caller.kind).toBe('invalid');
    expect((after.caller as { reason: string }).reason).toMatch(/expired/);
  });

  it('never answers another token from the cache: a forged signature is refused, another user is that user', async () => {
    now = Date.now();
    const good = await hsToken({ sub: 'carol' });
    expect((await ask(good)).caller).toMatchObject({ kind: 'user', user: 'carol' });
    const forged = await hsToken({ sub: 'carol' }, { secret: 'another-secret-of-16-chars-or-more' });
    expect((await ask(forged)).caller.kind).toBe('invalid');
    // Same claims and signature, one character of the signature changed.
    const sig = good.slice(good.lastIndexOf('.') + 1);
    const flipped = `${good.slice(0, good.lastIndexOf('.') + 1)}${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect((await ask(flipped)).caller.kind).toBe('invalid');
    const dave = await hsToken({ sub: 'dave' });
    expect((await ask(dave)).caller).toMatchObject({ kind: 'user', user: 'dave' });
    expect((await ask(good)).caller).toMatchObject({ kind: 'user', user: 'carol' });
  });

  it(`keeps at most JWT_CACHE_MAX (${JWT_CACHE_MAX}) tokens`, async () => {
    now = Date.now();
    const tokens = await Promise.all(Array.from({ length: JWT_CACHE_MAX + 50 }, (_, i) => hsToken({ sub: `user-${i}` })));
    // Straight through AccessControl (the same code as over HTTP): 10,050 requests would be slow.
    for (const t of tokens) {
      const c = await access.caller({ headers: { authorization: `Bearer ${t}` } } as IncomingMessage);
      expect(c.kind).toBe('user');
    }
    expect(access.rememberedTokens).toBe(JWT_CACHE_MAX);
  }, 60_000);
});

describe('API keys are not cached', () => {
  it('refuses a revoked key from the reload that notices it', async () => {
    const made = await createKey(file, { scopes: ['services'] });
    await ring.reload();
    expect((await ask(made.key)).caller).toMatchObject({ kind: 'key', id: made.record.id });
    expect((await ask(made.key)).caller).toMatchObject({ kind: 'key', id: made.record.id });
    await revokeKey(file, made.record.id);
    await ring.reload();
    const after = await ask(made.key);
    expect(after.caller).toMatchObject({ kind: 'invalid', keyId: made.record.id });
  });

  it('refuses a key with a wrong secret even right after the real one was accepted', async () => {
    const made = await createKey(file, { scopes: ['services'] });
    await ring.reload();
    expect((await ask(made.key)).caller.kind).toBe('key');
    const last = made.key.at(-1) === 'A' ? 'B' : 'A';
    expect((await ask(`${made.key.slice(0, -1)}${last}`)).caller).toMatchObject({ kind: 'invalid', keyId: made.record.id });
  });
});

describe('the rate-limit key', () => {
  it('is the same for the same credential and address, different for another credential, never the credential itself', async () => {
    now = Date.now();
    const a = await hsToken({ sub: 'erin' });
    const b = await hsToken({ sub: 'frank' });
    const ka = (await ask(a)).rateKey;
    expect((await ask(a)).rateKey).toBe(ka);
    expect((await ask(b)).rateKey).not.toBe(ka);
    expect(ka).not.toContain(a);
    expect(ka).toMatch(/^[A-Za-z0-9_-]{16}\|/);
    expect((await ask(undefined)).rateKey).toMatch(/^-\|/);
  });
});
