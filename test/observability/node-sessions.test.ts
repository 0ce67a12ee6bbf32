// Per-connection metrics of a region node over real WebSockets: sessions and present users,
// frames in and out by type, auth failures by reason (WebSocket and HTTP), rate-limit refusals.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { TestClient } from '../node/client.js';
import { waitFor } from '../e2e/helpers.js';
import { value } from './prom.js';

const SECRET = 'observability-test-secret-0123456789';
let d: Deployment;

const metrics = async (): Promise<string> => (await fetch(`${d.urls['eu-west']}/metrics`)).text();
const token = (sub: string, expSecondsFromNow: number): Promise<string> =>
  new SignJWT({ rooms: [] }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(Math.floor(Date.now() / 1000) + expSecondsFromNow).sign(new TextEncoder().encode(SECRET));

beforeAll(async () => {
  d = await startEmbeddedDeployment(defaultTopology(), { dataDir: ':memory:', region: { node: { auth: { dev: true, hs256Secret: SECRET }, rateLimit: { ratePerSec: 1, burst: 20 } } } });
});
afterAll(async () => {
  await d?.close();
});

describe('session metrics', () => {
  it('sessions, present users and frames by type follow a known workload', async () => {
    const m0 = await metrics();
    const a1 = await TestClient.dev(d.wsUrl('eu-west'), 'alice');
    const a2 = await TestClient.dev(d.wsUrl('eu-west'), 'alice');
    const b = await TestClient.dev(d.wsUrl('eu-west'), 'bob');
    try {
      let m1 = await metrics();
      expect(value(m1, 'meridian_sessions')).toBe(3);
      expect(value(m1, 'meridian_connections')).toBe(3);
      expect(value(m1, 'meridian_presence_users')).toBe(2);
      expect(value(m1, 'meridian_frames_received_total', { type: 'auth' }) - value(m0, 'meridian_frames_received_total', { type: 'auth' })).toBe(3);
      expect(value(m1, 'meridian_frames_sent_total', { type: 'welcome' }) - value(m0, 'meridian_frames_sent_total', { type: 'welcome' })).toBe(3);
      a1.send({ type: 'send', id: 's1', to: { user: 'bob' }, body: 'hi', clientMsgId: 'c1' });
      await a1.next('ack');
      // The direct message reaches both of alice's sessions and bob's.
      await waitFor(() => [a1, a2, b].every((c) => c.frames.some((f) => f.type === 'message')), 'three sessions get the message');
      m1 = await metrics();
      expect(value(m1, 'meridian_frames_received_total', { type: 'send' }) - value(m0, 'meridian_frames_received_total', { type: 'send' })).toBe(1);
      expect(value(m1, 'meridian_frames_sent_total', { type: 'ack' }) - value(m0, 'meridian_frames_sent_total', { type: 'ack' })).toBe(1);
      expect(value(m1, 'meridian_frames_sent_total', { type: 'message' }) - value(m0, 'meridian_frames_sent_total', { type: 'message' })).toBe(3);
      a1.raw('{not json');
      await a1.next('error');
      expect(value(await metrics(), 'meridian_frames_received_total', { type: 'invalid' }) - value(m0, 'meridian_frames_received_total', { type: 'invalid' })).toBe(1);
    } finally {
      for (const c of [a1, a2]) c.ws.close();
      await Promise.all([a1.closed, a2.closed]);
    }
    await waitFor(async () => value(await metrics(), 'meridian_sessions') === 1, 'alice\'s sessions end');
    expect(value(await metrics(), 'meridian_presence_users')).toBe(1);
    b.ws.close();
  });

  it('auth failures are counted by reason and transport', async () => {
    const m0 = await metrics();
    const bad = await TestClient.open(d.wsUrl('eu-west'));
    bad.send({ type: 'auth', id: 'a', token: 'not-a-jwt' });
    await bad.closed;
    const expired = await TestClient.open(d.wsUrl('eu-west'));
    expired.send({ type: 'auth', id: 'a', token: await token('carol', -60) });
    await expired.closed;
    const ok = await TestClient.token(d.wsUrl('eu-west'), await token('carol', 600));
    ok.ws.close();
    expect((await fetch(`${d.urls['eu-west']}/v1/presence/bob`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const m1 = await metrics();
    const delta = (labels: Record<string, string>): number => value(m1, 'meridian_auth_failures_total', labels) - value(m0, 'meridian_auth_failures_total', labels);
    expect(delta({ reason: 'invalid', transport: 'ws' })).toBe(1);
    expect(delta({ reason: 'expired', transport: 'ws' })).toBe(1);
    expect(delta({ reason: 'invalid', transport: 'http' })).toBe(1);
  });

  it('frames over the rate limit are counted', async () => {
    const c = await TestClient.dev(d.wsUrl('eu-west'), 'dan');
    try {
      const m0 = await metrics();
      // burst 20 at 1/s: 30 heartbeats at once, about 10 refused.
      for (let i = 0; i < 30; i++) c.send({ type: 'heartbeat', id: `h${i}` });
      await waitFor(() => c.frames.filter((f) => f.type === 'error' || f.type === 'heartbeat').length >= 30, 'every heartbeat answered or refused');
      const refused = c.frames.filter((f) => f.type === 'error' && f.name === 'RATE_LIMITED').length;
      expect(refused).toBeGreaterThan(0);
      expect(value(await metrics(), 'meridian_rate_limited_total', { scope: 'frame' }) - value(m0, 'meridian_rate_limited_total', { scope: 'frame' })).toBe(refused);
    } finally {
      c.ws.close();
    }
  });
});
