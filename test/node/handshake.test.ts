// The connection's life before and around messaging: subprotocol negotiation, authentication
// (dev, HS256, EdDSA), timeouts, heartbeats, bad frames, limits and rate limiting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, serverFrameSchemas } from '../../src/protocol/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient } from './client.js';
import { SECRET, ed, edToken, hsToken, oneRegion } from './fixtures.js';

describe('a node with tokens (no dev mode)', () => {
  let d: Deployment;
  let url: string;
  beforeAll(async () => {
    d = await startEmbeddedDeployment(oneRegion(), {
      dataDir: ':memory:',
      region: { node: { auth: { hs256Secret: SECRET, eddsaPublicKey: ed.publicPem }, authTimeoutMs: 300, idleTimeoutMs: 400, heartbeatMs: 100, rateLimit: { ratePerSec: 20, burst: 20 }, abuseBurst: 30, abuseRatePerSec: 1 } },
    });
    url = d.wsUrl('solo');
  });
  afterAll(async () => {
    await d?.close();
  });

  it('answers an upgrade offering only unknown versions with 400 and the supported list', async () => {
    const err = (await TestClient.open(url, ['meridian.v9']).catch((e: unknown) => e)) as { status: number; body: string };
    expect(err.status).toBe(400);
    expect(JSON.parse(err.body)).toEqual({ name: 'PROTOCOL_VERSION', supported: ['meridian.v1'] });
  });

  it('accepts and closes 4752 an upgrade without a subprotocol', async () => {
    const c = await TestClient.open(url, null);
    expect((await c.closed).code).toBe(CloseCode.PROTOCOL_VERSION);
  });

  it('refuses upgrades on other paths with 404', async () => {
    const err = (await TestClient.open(url.replace('/ws', '/other')).catch((e: unknown) => e)) as { status: number };
    expect(err.status).toBe(404);
  });

  it('welcomes a valid HS256 token with the limits, rooms and expiry', async () => {
    const c = await TestClient.open(url);
    c.send({ type: 'auth', id: 'a1', token: await hsToken({ sub: 'alice', rooms: ['team-*'] }) });
    const w = await c.next('welcome');
    expect(serverFrameSchemas.welcome.safeParse(w).success).toBe(true);
    expect(w).toMatchObject({ ref: 'a1', protocol: 1, region: 'solo', user: 'alice', rooms: ['team-*'], heartbeatMs: 100, idleTimeoutMs: 400 });
    expect(w.limits).toMatchObject({ maxFrameBytes: 131072, maxReplay: 1000, dedupeWindowMs: 120000 });
    expect(w.expiresAt).toBeGreaterThan(Date.now());
    expect(w.session).toMatch(/^s-/);
    await c.close();
  });

  it('welcomes an EdDSA token', async () => {
    const c = await TestClient.token(url, await edToken({ sub: 'bob' }));
    expect(c.frames).toEqual([]);
    await c.close();
  });

  it('closes 4750 for a bad signature, an expired token, a token without exp or sub, garbage, and dev auth', async () => {
    const tokens = [
      await hsToken({ sub: 'alice' }, { secret: 'another-secret-of-16-chars' }),
      await hsToken({ sub: 'alice' }, { expSec: -60 }),
      await hsToken({ sub: 'alice' }, { expSec: 0 }),
      await hsToken({ rooms: [] }),
      await hsToken({ sub: ' bad ' }),
      await hsToken({ sub: 'alice', rooms: 'not-a-list' }),
      'not.a.jwt',
    ];
    for (const token of tokens) {
      const c = await TestClient.open(url);
      c.send({ type: 'auth', id: 'a', token });
      expect((await c.closed).code, token).toBe(CloseCode.AUTH_FAILED);
    }
    const dev = await TestClient.open(url);
    dev.send({ type: 'auth', id: 'a', user: 'mallory' });
    expect((await dev.closed).code).toBe(CloseCode.AUTH_FAILED);
  });

  it('closes 4751 when the token expires on a live connection', async () => {
    const c = await TestClient.token(url, await hsToken({ sub: 'alice' }, { expSec: 1 }));
    // Keep it from going idle while the token runs out.
    const beat = setInterval(() => c.send({ type: 'heartbeat' }), 50);
    const closed = await c.closed;
    clearInterval(beat);
    expect(closed.code).toBe(CloseCode.TOKEN_EXPIRED);
  });

  it('closes 4504 when no auth arrives in time, answering other frames NOT_AUTHENTICATED meanwhile', async () => {
    const c = await TestClient.open(url);
    c.send({ type: 'heartbeat', id: 'h1' });
    expect(await c.answer('h1')).toMatchObject({ type: 'error', name: 'NOT_AUTHENTICATED', code: 4010 });
    expect((await c.closed).code).toBe(CloseCode.AUTH_TIMEOUT);
  });

  it('answers heartbeats with the server clock and closes 4502 after silence', async () => {
    const c = await TestClient.token(url, await hsToken({ sub: 'alice' }));
    const before = Date.now();
    const h = await c.request({ type: 'heartbeat', id: 'h1', ts: 1 });
    expect(h).toMatchObject({ type: 'heartbeat', ref: 'h1' });
    expect((h as { ts: number }).ts).toBeGreaterThanOrEqual(before - 5);
    c.send({ type: 'heartbeat' });
    await c.next('heartbeat', (f) => f.ref === undefined);
    expect((await c.closed).code).toBe(CloseCode.HEARTBEAT_TIMEOUT);
  });

  it('answers every bad frame with an error carrying ref, and stays open', async () => {
    const c = await TestClient.token(url, await hsToken({ sub: 'alice' }));
    const beat = setInterval(() => c.send({ type: 'heartbeat' }), 100);
    c.raw('{"type":"send","id":"x1",');
    expect(await c.answer('x1')).toMatchObject({ name: 'BAD_FRAME' });
    c.raw('{"type":"frobnicate","id":"x2"}');
    expect(await c.answer('x2')).toMatchObject({ name: 'UNKNOWN_TYPE' });
    c.raw('{"type":"send","id":"x3","to":{"user":7},"body":1,"clientMsgId":"c"}');
    expect(await c.answer('x3')).toMatchObject({ name: 'INVALID_FIELD', path: 'to.user' });
    c.raw(`{"type":"send","id":"x4","to":{"user":"b"},"clientMsgId":"c","body":"${'x'.repeat(140_000)}"}`);
    expect(await c.answer('x4')).toMatchObject({ name: 'FRAME_TOO_LARGE' });
    c.raw(`{"type":"send","id":"x5","to":{"user":"b"},"clientMsgId":"c","body":"${'x'.repeat(70_000)}"}`);
    expect(await c.answer('x5')).toMatchObject({ name: 'BODY_TOO_LARGE' });
    c.raw(Buffer.from([0x7b, 0xff, 0xfe]));
    expect(await c.next('error', (e) => e.name === 'BAD_FRAME' && e.message.includes('UTF-8'))).toBeDefined();
    c.raw(Buffer.from('{"type":"heartbeat"}'), true);
    expect(await c.next('error', (e) => e.message.includes('binary'))).toBeDefined();
    c.send({ type: 'auth', id: 'x6', user: 'again' });
    expect(await c.answer('x6')).toMatchObject({ name: 'ALREADY_AUTHENTICATED' });
    c.send({ type: 'join', id: 'x7', room: 'team-1' });
    expect(await c.answer('x7')).toMatchObject({ name: 'FORBIDDEN', path: 'room' });
    c.send({ type: 'send', id: 'x8', to: { room: 'team-1' }, body: 1, clientMsgId: 'c' });
    expect(await c.answer('x8')).toMatchObject({ name: 'FORBIDDEN', path: 'to.room' });
    c.send({ type: 'retransmit', id: 'x9', conversation: 'dm:bob:carol', fromSeq: 1 });
    expect(await c.answer('x9')).toMatchObject({ name: 'FORBIDDEN' });
    c.send({ type: 'retransmit', id: 'x10', conversation: 'dm:alice:bob', fromSeq: 50 });
    expect(await c.answer('x10')).toMatchObject({ name: 'BAD_SEQUENCE' });
    c.send({ type: 'delivery_ack', id: 'x11', conversation: 'dm:alice:bob', seq: 50 });
    expect(await c.answer('x11')).toMatchObject({ name: 'BAD_SEQUENCE', path: 'seq' });
    c.send({ type: 'leave', id: 'x12', room: 'nowhere' });
    expect(await c.answer('x12')).toMatchObject({ name: 'NOT_FOUND' });
    c.send({ type: 'unsubscribe_presence', id: 'x13', user: 'nobody' });
    expect(await c.answer('x13')).toMatchObject({ name: 'NOT_FOUND' });
    clearInterval(beat);
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    expect(c.invalid).toEqual([]);
    await c.close();
  });

  it('rate-limits a fast sender with retryAfterMs, and closes 4753 when the flood goes on', async () => {
    const c = await TestClient.token(url, await hsToken({ sub: 'alice' }));
    for (let i = 0; i < 25; i++) c.send({ type: 'heartbeat', id: `h${i}` });
    const limited = await c.next('error', (e) => e.name === 'RATE_LIMITED');
    expect(limited.retryable).toBe(true);
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    expect(limited.ref).toMatch(/^h\d+$/);
    for (let i = 0; i < 60; i++) c.raw('garbage');
    expect((await c.closed).code).toBe(CloseCode.POLICY_VIOLATION);
  });
});
