/**
 * `meridian erase` against a running embedded deployment: a conversation erased through the CLI
 * (--wait --json), its history empty in every region afterwards, the saved output verified with
 * --verify (keys from --url, or from the file), a tampered file refused with exit 1, usage
 * errors with exit 2, and a client token (a user JWT) refused with 403.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { KeyRing, createKey } from '../../src/keys/mod.js';
import { roomConversation } from '../../src/protocol/mod.js';
import { embeddedFactory, REGIONS, withoutQuickFailover } from '../e2e/deployments.js';
import type { E2eDeployment } from '../e2e/deployments.js';
import { SECRET, hsToken } from '../node/fixtures.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

describe('meridian erase', () => {
  let d: E2eDeployment;
  let dir: string;
  let ring: KeyRing;
  let key: string;
  const room = `cli${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-erase-cli-'));
    key = (await createKey(join(dir, 'keys.json'), { scopes: ['erase'] })).key;
    ring = await KeyRing.open(join(dir, 'keys.json'));
    d = await embeddedFactory(withoutQuickFailover(), { region: { erasure: { intervalMs: 1000 }, node: { keys: ring, auth: { dev: true, hs256Secret: SECRET } } } });
    for (const from of ['ann', 'bob']) {
      const res = await fetch(`${d.inner.urls['eu-west']}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to: { room }, body: { text: `hello from ${from}` }, clientMsgId: from }) });
      expect(res.status).toBe(201);
    }
  }, 60_000);

  afterAll(async () => {
    await d?.close();
    ring?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('erases a conversation everywhere, waits for the receipt and verifies it', async () => {
    const url = d.inner.urls['us-east']!;
    const r = await run(['erase', '--url', url, '--key', key, '--conversation', `room:${room}`, '--wait', '--json']);
    expect(r.code, r.err).toBe(0);
    const status = JSON.parse(r.out) as { complete: boolean; regions: { region: string; counts: { log: number } }[] };
    expect(status.complete).toBe(true);
    // Both messages at the room's home and at its replica.
    expect(status.regions.reduce((n, x) => n + x.counts.log, 0)).toBe(4);
    for (const region of REGIONS) {
      const h = (await (await fetch(`${d.inner.urls[region]}/v1/conversations/${encodeURIComponent(roomConversation(room))}/messages`)).json()) as { messages: unknown[] };
      expect(h.messages).toEqual([]);
    }
    const file = join(dir, 'receipt.json');
    writeFileSync(file, r.out);
    const v = await run(['erase', '--verify', file, '--url', d.inner.urls['ap-southeast']!]);
    expect(v.code, v.err).toBe(0);
    expect(v.out).toContain('receipt valid');
    expect((await run(['erase', '--verify', file])).code).toBe(0);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { receipt: string };
    const [h, p, s] = doc.receipt.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { subject: unknown };
    payload.subject = { conversation: 'room:someone-else' };
    writeFileSync(file, JSON.stringify({ ...doc, receipt: `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}` }));
    const bad = await run(['erase', '--verify', file, '--url', url]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('ERASURE_RECEIPT_INVALID');
  });

  it('refuses bad usage with exit 2 and a key without the scope with exit 1', async () => {
    expect((await run(['erase', '--url', 'http://127.0.0.1:1', '--key', 'k'])).code).toBe(2);
    expect((await run(['erase', '--url', 'http://127.0.0.1:1', '--key', 'k', '--user', 'a', '--conversation', 'room:x'])).code).toBe(2);
    expect((await run(['erase', '--user', 'a'])).code).toBe(2);
    const r = await run(['erase', '--url', d.inner.urls['us-east']!, '--key', 'mrd_0123456789abcdef_nope', '--user', 'a']);
    expect([r.code, r.err.includes('401')]).toEqual([1, true]);
    // A client token is not an operator credential: 403 (the same for the HTTP endpoints).
    const user = await run(['erase', '--url', d.inner.urls['us-east']!, '--key', await hsToken({ sub: 'ann' }), '--user', 'ann']);
    expect([user.code, user.err.includes('403')]).toEqual([1, true]);
  });
});
