/**
 * One connection's view of a conversation (src/node/stream.ts) against real messaging on the
 * embedded bus and an in-memory SQLite log: a live message that overtakes the log opens a hole
 * the log cannot fill yet. The stream must not ask for it in a loop (the embedded log answers
 * in resolved promises, so a loop would starve timers and I/O): a few fills on a timer, then one
 * `gap` with reason `unavailable`. Only the session's socket side is a stand-in (`out`,
 * `send`, `replayMessage`: they record what would be written).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { openSqliteLog } from '../../src/log/mod.js';
import type { MessageLog } from '../../src/log/mod.js';
import { createMessaging, encodeMessage } from '../../src/messaging/mod.js';
import type { Delivery, Messaging, StoredMessage } from '../../src/messaging/mod.js';
import { ConversationStream } from '../../src/node/stream.js';
import type { StreamHost } from '../../src/node/stream.js';
import { NodeMetrics } from '../../src/observability/metrics.js';
import type { ServerFrame } from '../../src/protocol/mod.js';
import { oneRegion } from './fixtures.js';

const C = 'room:r';
/** More history reads than this and the stream is spinning: fail the read so the test ends. */
const FUSE = 50;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup() {
  const network = new EmbeddedNetwork([{ name: 'solo', lat: 50, lon: 8 }]);
  const log: MessageLog = openSqliteLog({ path: ':memory:' });
  const messaging: Messaging = await createMessaging({ bus: network.connect('solo'), region: 'solo', topology: oneRegion(), log });
  cleanup.push(async () => {
    await messaging.close();
    await log.close();
    await network.close();
  });
  const real = messaging.history.bind(messaging);
  const reads: number[] = [];
  const history = vi.spyOn(messaging, 'history').mockImplementation((conversation, opts) => {
    reads.push(opts?.after ?? 0);
    if (reads.length > FUSE) return Promise.reject(new Error('the stream keeps reading the same hole'));
    return real(conversation, opts);
  });
  cleanup.push(() => Promise.resolve(history.mockRestore()));

  /** What happened, in order: `live N`, `replay N`, `gap <reason> N`, `timer`. */
  const events: string[] = [];
  const host: StreamHost = {
    out: {
      open: true,
      live: (framed: Buffer) => {
        events.push(`live ${seqOf(framed)}`);
        return true;
      },
    },
    messaging,
    maxReplay: 100,
    replayBuffer: 16,
    metrics: new NodeMetrics({ region: 'solo', node: 'n1', regions: ['solo'] }),
    send: (f: ServerFrame) => {
      if (f.type === 'gap') events.push(`gap ${f.reason} ${f.fromSeq}`);
    },
    replayMessage: (m: StoredMessage) => {
      events.push(`replay ${m.seq}`);
      return Promise.resolve(true);
    },
    exclusive: (job) => job(),
  };
  const stream = new ConversationStream(C, host);
  const live = (m: StoredMessage): void => {
    const d: Delivery = { kind: 'message', conversation: C, seq: m.seq, from: m.from, frame: encodeMessage(m) };
    stream.live(d);
  };
  const send = async (n: number): Promise<StoredMessage> => {
    const ack = await messaging.send({ from: 'ann', to: { room: 'r' }, body: n, clientMsgId: `c${n}` });
    return { conversation: C, seq: ack.seq, messageId: ack.messageId, from: 'ann', to: { room: 'r' }, body: n, timestamp: ack.timestamp, region: 'solo' };
  };
  /** A live message the log does not show yet (it overtook its own append, or a replica lags). */
  const ahead = (seq: number): StoredMessage => ({ conversation: C, seq, messageId: `ahead-${seq}`, from: 'ann', to: { room: 'r' }, body: seq, timestamp: Date.now(), region: 'solo' });
  return { stream, events, reads, live, send, ahead };
}

/** The seq of the `message` frame in one unmasked WebSocket text frame (what `out.live` gets). */
function seqOf(framed: Buffer): number {
  const len = framed[1]! & 0x7f;
  const payload = framed.subarray(len === 126 ? 4 : len === 127 ? 10 : 2);
  return (JSON.parse(payload.toString('utf8')) as { seq: number }).seq;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('conversation stream gap fills', () => {
  it('gives up on a hole the log does not have after 5 fills on a timer, with one gap/unavailable, and never starves timers', async () => {
    const t = await setup();
    const first = await t.send(1);
    t.live(first);
    expect(t.events).toEqual(['live 1']);
    setTimeout(() => t.events.push('timer'), 0);
    const started = Date.now();
    t.live(t.ahead(3));
    await vi.waitFor(() => expect(t.events.some((e) => e.startsWith('gap'))).toBe(true), { timeout: 5000, interval: 10 });
    const elapsed = Date.now() - started;
    // Five reads of the hole (after seq 1), no more; then the client is told, once.
    expect(t.reads).toEqual([1, 1, 1, 1, 1]);
    expect(t.events).toEqual(['live 1', 'timer', 'gap unavailable 2']);
    // Retries wait 20, 40, 80, 160 ms: paced on timers, not chained in one turn.
    expect(elapsed).toBeGreaterThanOrEqual(250);
    // Gapped: later live messages are dropped, nothing more is read until the client asks.
    t.live(t.ahead(4));
    await sleep(400);
    expect(t.reads).toHaveLength(5);
    expect(t.events).toEqual(['live 1', 'timer', 'gap unavailable 2']);
  });

  it('a hole the log gets during the retries is filled, then the held message follows', async () => {
    const t = await setup();
    t.live(await t.send(1));
    t.live(t.ahead(3));
    // The append of 2 lands while the stream is retrying (after a fruitless retry; the next ones
    // come 40, 80 and 160 ms later).
    await vi.waitFor(() => expect(t.reads.length).toBeGreaterThanOrEqual(2), { timeout: 5000, interval: 1 });
    await t.send(2);
    await vi.waitFor(() => expect(t.events).toContain('live 3'), { timeout: 5000, interval: 10 });
    expect(t.events).toEqual(['live 1', 'replay 2', 'live 3']);
    expect(t.reads.length).toBeGreaterThanOrEqual(2);
    expect(t.reads.length).toBeLessThanOrEqual(5);
  });
});
