/**
 * The client against real region nodes: three regions in this process on the embedded bus
 * (src/runtime/deployment.ts), real WebSockets on loopback. The end-to-end suites (test/e2e)
 * cover the system's semantics; these cover what the client itself adds: status as data, the
 * outbox across outages, dedupe of its own sends, cursors, resume, heartbeats, auth failures.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { SignJWT } from 'jose';
import { connect, MeridianClient, ConnectionClosedError, RequestFailedError, SendExpiredError } from '../../src/client/node.js';
import type { ClientOptions, ClientStatus, WebSocketConstructor } from '../../src/client/node.js';
import { WebSocket as WsSocket } from 'ws';
import { dmConversation } from '../../src/protocol/mod.js';
import { ConversationPlacement } from '../../src/placement/mod.js';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { startTcpProxy } from '../../src/testing/mod.js';
import type { TcpProxy } from '../../src/testing/mod.js';
import { defaultTopology } from '../../src/topology/mod.js';
import { Recorder, sleep, waitFor } from '../e2e/helpers.js';

const SECRET = 'client-test-secret-0123456789';
let d: Deployment;
const clients: MeridianClient[] = [];

async function open(region: string, user: string, extra: Partial<ClientOptions> = {}): Promise<{ c: MeridianClient; r: Recorder }> {
  const c = new MeridianClient({ url: d.wsUrl(region), user, ...extra });
  const r = new Recorder(c);
  clients.push(c);
  await c.connected();
  return { c, r };
}

beforeAll(async () => {
  d = await startEmbeddedDeployment(defaultTopology(), {
    dataDir: ':memory:',
    region: { logOptions: { maxPerConversation: 40 }, node: { auth: { dev: true, hs256Secret: SECRET } } },
  });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await d?.close();
});

describe('client against real nodes', () => {
  it('reports its status as data and takes its limits from welcome', async () => {
    const c = new MeridianClient({ url: d.wsUrl('eu-west'), user: 'stat' });
    clients.push(c);
    const it1 = c.statuses();
    const seen: ClientStatus['type'][] = [];
    for await (const s of it1) {
      seen.push(s.type);
      if (s.type === 'connected') {
        expect(s.region).toBe('eu-west');
        expect(s.welcome.user).toBe('stat');
        expect(s.welcome.limits.dedupeWindowMs).toBe(120_000);
        break;
      }
    }
    expect(seen).toEqual(['connecting', 'connected']);
    expect(c.welcome?.region).toBe('eu-west');
    await c.close();
    expect(c.status).toEqual({ type: 'closed' });
    expect(await c.closed()).toBeUndefined();
    await expect(c.send({ user: 'x' }, 1)).rejects.toThrow('the client is closed');
  });

  it('delivers a direct message to every connection of both users except the sending one', async () => {
    const a1 = await open('us-east', 'alice1');
    const a2 = await open('ap-southeast', 'alice1');
    const b = await open('eu-west', 'bob1');
    const conv = dmConversation('alice1', 'bob1');
    const stream = b.c.messages();
    const ack = await a1.c.send({ user: 'bob1' }, { text: 'hi' });
    expect((await stream.next()).value).toMatchObject({ conversation: conv, seq: ack.seq, body: { text: 'hi' } });
    expect(ack).toMatchObject({ conversation: conv, seq: 1, duplicate: false });
    const [m] = await b.r.count(conv, 1);
    expect(m).toMatchObject({ seq: 1, from: 'alice1', body: { text: 'hi' }, region: 'us-east', messageId: ack.messageId });
    await a2.r.count(conv, 1);
    await sleep(200);
    // The sender has the message already (its ack): the echo on its own connection is dropped.
    expect(a1.r.in(conv)).toEqual([]);
    expect(b.r.in(conv)).toHaveLength(1);
    await b.c.close();
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('a retried clientMsgId gets the original ack and is delivered once', async () => {
    const a = await open('us-east', 'alice2');
    const b = await open('eu-west', 'bob2');
    const conv = dmConversation('alice2', 'bob2');
    const first = await a.c.send({ user: 'bob2' }, 'once', { clientMsgId: 'k-1' });
    const again = await a.c.send({ user: 'bob2' }, 'once', { clientMsgId: 'k-1' });
    expect(again).toEqual({ ...first, duplicate: true });
    await b.r.count(conv, 1);
    await sleep(300);
    expect(b.r.seqs(conv)).toEqual([1]);
  });

  it('acknowledges deliveries automatically and relays read receipts', async () => {
    const a = await open('us-east', 'alice3');
    const b = await open('eu-west', 'bob3', { ackDelayMs: 100 });
    const conv = dmConversation('alice3', 'bob3');
    for (let i = 0; i < 3; i++) await a.c.send({ user: 'bob3' }, i);
    await b.r.count(conv, 3);
    // One delivery_ack cursor (the highest contiguous seq) within the batch delay.
    await waitFor(async () => (await d.region('eu-west').messaging.cursor('bob3', conv)) === 3, 'the delivered cursor to reach 3');
    await waitFor(() => a.r.receipts.some((r) => r.kind === 'delivered' && r.seq === 3), 'a delivered receipt');
    b.c.markRead(conv, 2);
    await waitFor(() => a.r.receipts.some((r) => r.kind === 'read' && r.seq === 2 && r.user === 'bob3'), 'a read receipt');
  });

  it('keeps sends in its outbox through an outage and resumes in another region', async () => {
    const room = 'outage-room';
    const conv = `room:${room}`;
    const sender = await open('ap-southeast', 'sender4');
    const c = new MeridianClient({ url: [d.wsUrl('us-east'), d.wsUrl('eu-west')], user: 'roamer4', backoff: { initialMs: 50 } });
    clients.push(c);
    const r = new Recorder(c);
    await c.connected();
    await c.join(room);
    await sender.c.send({ room }, 'before');
    await r.count(conv, 1);

    await d.region('us-east').node.takeDown();
    try {
      await r.status('disconnected');
      const queued = c.send({ room }, 'while-down');
      for (const body of ['missed-1', 'missed-2', 'missed-3']) await sender.c.send({ room }, body);
      const ack = await queued;
      expect(c.status.type === 'connected' && c.status.region).toBe('eu-west');
      expect(ack.conversation).toBe(conv);
      await r.count(conv, 4);
      // Everything in seq order, each once; its own message is known from its ack.
      expect(r.bodies(conv)).toEqual(['before', 'missed-1', 'missed-2', 'missed-3'].slice(0, 4));
      const seqs = r.seqs(conv);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set([...seqs, ack.seq]).size).toBe(5);
    } finally {
      await d.region('us-east').node.bringUp();
    }
  });

  it('resumes from persisted positions and surfaces history that retention removed', async () => {
    const room = 'retained-room';
    const conv = `room:${room}`;
    const sender = await open('us-east', 'sender5');
    const first = await open('eu-west', 'reader5');
    await first.c.join(room);
    await sender.c.send({ room }, 0);
    await first.r.count(conv, 1);
    const positions = first.c.positions();
    expect(positions[conv]).toBe(1);
    await first.c.close();
    // The log keeps 40 per conversation: 60 more leave seqs 2..21 gone.
    for (let i = 1; i <= 60; i++) await sender.c.send({ room }, i);
    const again = new MeridianClient({ url: d.wsUrl('ap-southeast'), user: 'reader5', positions });
    clients.push(again);
    const r = new Recorder(again);
    await again.join(room);
    await r.count(conv, 40);
    expect(r.seqs(conv)).toEqual(Array.from({ length: 40 }, (_, i) => 22 + i));
    expect(r.resumed.find((f) => f.conversation === conv)).toMatchObject({ recovered: false, reason: 'history_gone', fromSeq: 22 });
    expect(r.lost).toEqual([{ conversation: conv, fromSeq: 2, toSeq: 21, reason: 'history_gone' }]);
    expect(again.positions()[conv]).toBe(61);
  });

  it('authenticates with a token, and a refused one ends the client with a terminal close', async () => {
    const token = await new SignJWT({ rooms: ['t-*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('tok6').setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
    const ok = await connect({ url: d.wsUrl('us-east'), token });
    clients.push(ok);
    expect(ok.welcome).toMatchObject({ user: 'tok6', rooms: ['t-*'] });
    await expect(ok.join('other')).rejects.toMatchObject({ wireName: 'FORBIDDEN', wireCode: 4012 });
    await expect(ok.send({ room: 'other' }, 1)).rejects.toBeInstanceOf(RequestFailedError);

    const bad = connect({ url: d.wsUrl('us-east'), token: 'not.a.jwt', waitOnFirstConnect: true });
    const err = await bad.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as ConnectionClosedError).closeCode).toBe(4750);
  });

  it('reconnects after TOKEN_EXPIRED when the token comes from a function', async () => {
    let issued = 0;
    const token = async (): Promise<string> => {
      issued += 1;
      return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('exp7').setExpirationTime(Math.ceil(Date.now() / 1000) + (issued === 1 ? 1 : 3600)).sign(new TextEncoder().encode(SECRET));
    };
    const c = new MeridianClient({ url: d.wsUrl('eu-west'), token });
    clients.push(c);
    const r = new Recorder(c);
    await c.connected();
    const closed = (await r.status('disconnected', 0, 5000)) as Extract<ClientStatus, { type: 'disconnected' }>;
    expect(closed.code).toBe(4751);
    await waitFor(() => r.statuses.filter((s) => s.type === 'connected').length >= 2, 'a second connection');
    expect(issued).toBe(2);
  });
});

describe('client heartbeats and rate limits', () => {
  let hb: Deployment;
  let proxy: TcpProxy;
  beforeAll(async () => {
    hb = await startEmbeddedDeployment(defaultTopology(), { dataDir: ':memory:', region: { node: { heartbeatMs: 300, rateLimit: { ratePerSec: 50, burst: 10 }, limits: { dedupeWindowMs: 1500 } } } });
    proxy = await startTcpProxy({ targetPort: hb.region('eu-west').node.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await hb?.close();
  });

  it('stays connected over many heartbeats, and drops a silent connection after 2 × heartbeatMs', async () => {
    // A reconnect that starts before the link is healed stalls too: the connect timeout ends it.
    const c = new MeridianClient({ url: `ws://127.0.0.1:${proxy.port}/ws`, user: 'hb', backoff: { initialMs: 50 }, connectTimeoutMs: 1000 });
    clients.push(c);
    const r = new Recorder(c);
    await c.connected();
    await sleep(1500); // 5 heartbeat intervals
    expect(r.statuses.map((s) => s.type)).toEqual(['connected']);
    expect(c.rttMs).toBeGreaterThanOrEqual(0);
    // The link goes silent without closing: only the heartbeat can tell.
    proxy.setLatency(60_000);
    const t0 = Date.now();
    const down = (await r.status('disconnected', 0, 5000)) as Extract<ClientStatus, { type: 'disconnected' }>;
    const took = Date.now() - t0;
    expect(down.reason).toBe('heartbeat timeout');
    // 2 × heartbeatMs (600 ms) of silence since the last frame received, which came at most one
    // interval (300 ms) before the link went quiet; plus a tick and a busy machine.
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3000);
    proxy.setLatency(0);
    await waitFor(() => r.statuses.filter((s) => s.type === 'connected').length >= 2, 'the reconnect');
  });

  it('paces its outbox after RATE_LIMITED instead of flooding, and every send is acked once', async () => {
    const a = new MeridianClient({ url: hb.wsUrl('us-east'), user: 'rl-a' });
    const b = new MeridianClient({ url: hb.wsUrl('us-east'), user: 'rl-b' });
    clients.push(a, b);
    const rb = new Recorder(b);
    await Promise.all([a.connected(), b.connected()]);
    const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => a.send({ user: 'rl-b' }, i)));
    expect(new Set(acks.map((x) => x.seq)).size).toBe(60);
    expect(a.stats.resends).toBeGreaterThan(0); // the node did limit it
    expect(a.status.type).toBe('connected'); // and never closed it for abuse
    expect(a.stats.connects).toBe(1);
    const got = await rb.count(dmConversation('rl-a', 'rl-b'), 60);
    expect(new Set(got.map((m) => m.body)).size).toBe(60);
  });

  it('gives up a send unacked past the dedupe window, and an aborted one, instead of risking a second copy', async () => {
    const c = new MeridianClient({ url: hb.wsUrl('ap-southeast'), user: 'exp-a', backoff: { initialMs: 50, maxMs: 200 } });
    clients.push(c);
    const r = new Recorder(c);
    await c.connected();
    // A first send to a new conversation fixes its home across the WAN: its ack is far off.
    const written = c.send({ user: 'exp-b' }, 'in doubt');
    await hb.region('ap-southeast').node.takeDown();
    await r.status('disconnected');
    const abort = new AbortController();
    const aborted = c.send({ user: 'exp-b' }, 'never mind', { signal: abort.signal });
    abort.abort(new Error('user cancelled'));
    await expect(aborted).rejects.toThrow('user cancelled');
    await sleep(1600); // > welcome.limits.dedupeWindowMs
    await hb.region('ap-southeast').node.bringUp();
    const err = await written.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendExpiredError);
    expect(c.pendingSends).toBe(0);
  });
});

describe('client behind a slow link', () => {
  let bp: Deployment;
  beforeAll(async () => {
    bp = await startEmbeddedDeployment(defaultTopology(), {
      dataDir: ':memory:',
      region: { node: { outbound: { softBytes: 64 * 1024, hardBytes: 64 << 20, stuckMs: 10_000 }, rateLimit: { ratePerSec: 100_000, burst: 100_000 } } },
    });
  });
  afterAll(async () => {
    await bp?.close();
  });

  it('answers a gap notice with retransmit and ends with every message once, in order', async () => {
    // A WebSocket class that lets the test stop reading from the socket, as a busy device would.
    const sockets: WsSocket[] = [];
    class Pausable extends WsSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    const slow = new MeridianClient({ url: bp.wsUrl('us-east'), user: 'gap-slow', WebSocket: Pausable as unknown as WebSocketConstructor });
    const sender = new MeridianClient({ url: bp.wsUrl('us-east'), user: 'gap-sender' });
    clients.push(slow, sender);
    const r = new Recorder(slow);
    const gaps: unknown[] = [];
    slow.on('gap', (g) => gaps.push(g));
    await Promise.all([slow.connected(), sender.connected()]);
    // A room homed where both clients are: this test is about the slow socket, not the WAN (a
    // sender's sends to one conversation are acked in order, one home round trip each).
    const placement = new ConversationPlacement(defaultTopology());
    let room = 'gap-room';
    for (let i = 0; placement.homeOf(`room:${room}`) !== 'us-east'; i++) room = `gap-room-${i}`;
    await slow.join(room);
    const body = 'x'.repeat(60 * 1024);
    sockets[0]!.pause();
    const N = 200; // 12 MB: more than loopback socket buffers hold
    await Promise.all(Array.from({ length: N }, (_, i) => sender.send({ room }, `${i}:${body}`)));
    sockets[0]!.resume();
    const got = await r.count(`room:${room}`, N, 20_000);
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(gaps).toEqual([expect.objectContaining({ conversation: `room:${room}`, reason: 'slow_consumer' })]);
    expect(slow.stats.retransmits).toBeGreaterThanOrEqual(1);
    expect(r.lost).toEqual([]);
    expect(slow.stats.connects).toBe(1);
  }, 40_000);
});
