/**
 * The receive side's decisions, driven frame by frame with a manual clock: which `retransmit`
 * it asks for and when, what it hands over, and what it reports lost. The same code runs
 * against real nodes in client.test.ts; here each branch is reached on purpose.
 */
import { describe, it, expect } from 'vitest';
import { Receiver } from '../../src/client/receiver.js';
import type { ReceiverOptions } from '../../src/client/receiver.js';
import { Requests } from '../../src/client/requests.js';
import { Sender } from '../../src/client/sender.js';
import type { Connection } from '../../src/client/connection.js';
import type { LostRange } from '../../src/client/mod.js';
import { dmConversation } from '../../src/protocol/mod.js';
import type { AckFrame, ClientFrame, MessageFrame, ResumedFrame, ServerFrame } from '../../src/protocol/mod.js';
import { FakeClock } from './fake-clock.js';

const C = 'room:r';
function msg(seq: number, from = 'a', conversation = C): MessageFrame {
  const to = conversation === C ? { room: 'r' } : { user: from === 'me' ? 'bob' : 'me' };
  return { type: 'message', conversation, seq, messageId: `m${seq}`, from, to, body: seq, timestamp: seq, region: 'us-east' };
}

function setup(positions: Record<string, number> = { [C]: 0 }, extra: Partial<ReceiverOptions> = {}) {
  const clock = new FakeClock();
  const out: ClientFrame[] = [];
  let up = true;
  let n = 0;
  const write = (f: ClientFrame): boolean => (up ? (out.push(f), true) : false);
  const requests = new Requests(clock, 5000, { write, nextId: () => `r${++n}` });
  const delivered: number[] = [];
  const lost: LostRange[] = [];
  const errors: Error[] = [];
  const rx = new Receiver({
    clock,
    requests,
    write,
    deliver: (m) => delivered.push(m.seq),
    resumed: () => undefined,
    lost: (l) => lost.push(l),
    error: (e) => errors.push(e),
    autoAck: true,
    ackDelayMs: 1000,
    gapGraceMs: 300,
    refetchAfterMs: 5000,
    positions,
    ...extra,
  });
  const answer = (f: ServerFrame & { ref?: string }): void => {
    if (f.type === 'resumed') rx.resumed(f);
    requests.answer(f);
  };
  const retransmits = (): ClientFrame[] => out.filter((f) => f.type === 'retransmit');
  return { clock, out, rx, delivered, lost, errors, answer, retransmits, setUp: (v: boolean) => (up = v) };
}

function resumed(ref: string, fromSeq: number, toSeq: number, lastSeq: number, recovered = true): ResumedFrame {
  return { type: 'resumed', ref, conversation: C, recovered, ...(recovered ? {} : { reason: 'history_gone' }), fromSeq, toSeq, lastSeq };
}

describe('client receiver', () => {
  it('fetches a hole opened by a live message at once and releases in order when it is filled', () => {
    const t = setup();
    t.rx.message(msg(1));
    t.rx.message(msg(4));
    expect(t.retransmits()).toEqual([{ type: 'retransmit', id: 'r1', conversation: C, fromSeq: 2, toSeq: 3 }]);
    t.rx.message(msg(5)); // no second fetch while one is running
    expect(t.retransmits()).toHaveLength(1);
    t.answer(resumed('r1', 2, 3, 5));
    t.rx.message(msg(2));
    t.rx.message(msg(3));
    expect(t.delivered).toEqual([1, 2, 3, 4, 5]);
    t.clock.advance(1000);
    expect(t.out.filter((f) => f.type === 'delivery_ack')).toEqual([{ type: 'delivery_ack', conversation: C, seq: 5 }]);
  });

  it('gives a hole opened by its own ack a grace period before fetching', () => {
    const t = setup();
    t.rx.ownAck(C, 2);
    t.clock.advance(299);
    expect(t.retransmits()).toEqual([]);
    t.rx.message(msg(1)); // the live copy was only behind the ack
    t.clock.advance(1000);
    expect(t.retransmits()).toEqual([]);
    expect(t.delivered).toEqual([1]);
    expect(t.rx.position(C)).toBe(2);
    t.rx.ownAck(C, 4);
    t.clock.advance(300);
    expect(t.retransmits()).toEqual([{ type: 'retransmit', id: 'r1', conversation: C, fromSeq: 3, toSeq: 3 }]);
  });

  it('answers a gap frame with an open-ended retransmit and continues while the log has more', () => {
    const t = setup({ [C]: 10 });
    t.rx.gap({ type: 'gap', conversation: C, fromSeq: 11, reason: 'slow_consumer' });
    expect(t.retransmits()).toEqual([{ type: 'retransmit', id: 'r1', conversation: C, fromSeq: 11 }]);
    t.answer(resumed('r1', 11, 12, 20)); // maxReplay cut it short
    t.rx.message(msg(11));
    t.rx.message(msg(12));
    expect(t.retransmits()[1]).toEqual({ type: 'retransmit', id: 'r2', conversation: C, fromSeq: 13 });
  });

  it('asks again when a replay does not arrive in time', () => {
    const t = setup();
    t.rx.message(msg(3));
    t.answer(resumed('r1', 1, 2, 3));
    t.rx.message(msg(1));
    t.clock.advance(5000);
    expect(t.retransmits()[1]).toEqual({ type: 'retransmit', id: 'r2', conversation: C, fromSeq: 2, toSeq: 2 });
  });

  it('paces a fetch that brought nothing: the next retransmit waits refetchAfterMs instead of going out at once', () => {
    const t = setup();
    t.rx.message(msg(1));
    t.rx.message(msg(3));
    expect(t.retransmits()).toEqual([{ type: 'retransmit', id: 'r1', conversation: C, fromSeq: 2, toSeq: 2 }]);
    // The log does not have 2 yet (the live copy of 3 overtook it): an empty replay, as the node
    // answers it (toSeq = fromSeq - 1), and nothing follows.
    t.answer(resumed('r1', 2, 1, 1));
    expect(t.retransmits()).toHaveLength(1);
    t.clock.advance(4999);
    expect(t.retransmits()).toHaveLength(1);
    t.clock.advance(1);
    expect(t.retransmits()).toHaveLength(2);
    expect(t.retransmits()[1]).toEqual({ type: 'retransmit', id: 'r2', conversation: C, fromSeq: 2, toSeq: 2 });
    // Empty again: paced again.
    t.answer(resumed('r2', 2, 1, 1));
    t.clock.advance(4999);
    expect(t.retransmits()).toHaveLength(2);
    t.clock.advance(1);
    expect(t.retransmits()[2]).toEqual({ type: 'retransmit', id: 'r3', conversation: C, fromSeq: 2, toSeq: 2 });
    // Now the log has it: delivered in order, and nothing more is asked.
    t.answer(resumed('r3', 2, 2, 3));
    t.rx.message(msg(2));
    expect(t.delivered).toEqual([1, 2, 3]);
    t.clock.advance(20_000);
    expect(t.retransmits()).toHaveLength(3);
    expect(t.lost).toEqual([]);
  });

  it('skips history the server no longer has and reports it lost', () => {
    const t = setup({ [C]: 2 });
    void t.rx.resumeAll(() => true, 256);
    expect(t.out).toEqual([{ type: 'resume', id: 'r1', positions: { [C]: 2 } }]);
    t.answer(resumed('r1', 8, 9, 9, false));
    t.rx.message(msg(8));
    t.rx.message(msg(9));
    expect(t.delivered).toEqual([8, 9]);
    expect(t.lost).toEqual([{ conversation: C, fromSeq: 3, toSeq: 7, reason: 'history_gone' }]);
  });

  it('skips a hole the server refuses to replay instead of holding messages forever', () => {
    const t = setup();
    t.rx.message(msg(1));
    t.rx.message(msg(3));
    t.answer({ type: 'error', code: 4012, name: 'FORBIDDEN', message: 'no', ref: 'r1', retryable: false });
    return Promise.resolve().then(() => {
      expect(t.delivered).toEqual([1, 3]);
      expect(t.lost).toEqual([{ conversation: C, fromSeq: 2, toSeq: 2, reason: 'FORBIDDEN' }]);
    });
  });

  it('resumes in chunks of the server limit and redoes them on the next connection', () => {
    const t = setup({ 'room:a': 1, 'room:b': 2, 'room:c': 3 });
    void t.rx.resumeAll(() => true, 2);
    expect(t.out.map((f) => f.type === 'resume' && f.positions)).toEqual([{ 'room:a': 1, 'room:b': 2 }, { 'room:c': 3 }]);
    t.setUp(false);
    t.rx.disconnected();
    t.setUp(true);
    void t.rx.resumeAll((c) => c !== 'room:b', 256);
    expect(t.out[2]).toEqual({ type: 'resume', id: 'r3', positions: { 'room:a': 1, 'room:c': 3 } });
  });

  it('forgets a position beyond the conversation end (a wiped log) and starts afresh', async () => {
    const t = setup({ [C]: 50 });
    void t.rx.resumeAll(() => true, 256);
    const bad = (ref: string) => ({ type: 'error' as const, code: 4020, name: 'BAD_SEQUENCE', message: 'beyond', ref, retryable: false });
    t.answer({ ...bad('r1'), path: `positions.${C}` });
    await Promise.resolve();
    await Promise.resolve();
    expect(t.retransmits()).toEqual([]);
    expect(t.rx.position(C)).toBeUndefined();
    t.rx.message(msg(1));
    expect(t.delivered).toEqual([1]);
    expect(t.rx.position(C)).toBe(1);
  });

  it('answers each conversation of a resume on its own: one refused for now is fetched again soon, the others are not asked twice', async () => {
    const t = setup({ 'room:a': 4, 'room:b': 7 });
    void t.rx.resumeAll(() => true, 256);
    expect(t.out.filter((f) => f.type === 'resume')).toHaveLength(1);
    const down = { type: 'error' as const, code: 4031, name: 'UNAVAILABLE', message: 'home lost, failover under way', ref: 'r1', retryable: true, path: 'positions.room:b' };
    t.answer(down);
    t.answer({ type: 'resumed', ref: 'r1', conversation: 'room:a', recovered: true, fromSeq: 5, toSeq: 4, lastSeq: 4 });
    await Promise.resolve();
    await Promise.resolve();
    // Not the whole frame again: room:a was answered.
    expect(t.out.filter((f) => f.type === 'resume')).toHaveLength(1);
    expect(t.retransmits()).toEqual([]);
    t.clock.advance(250);
    expect(t.retransmits()).toEqual([{ type: 'retransmit', id: 'r2', conversation: 'room:b', fromSeq: 8 }]);
    // Still refused (after the request's own retries): again, later each time, never given up.
    for (let i = 2; i <= 5; i++) {
      t.answer({ ...down, ref: `r${i}`, retryAfterMs: 10, path: undefined as unknown as string });
      t.clock.advance(10);
    }
    await Promise.resolve();
    await Promise.resolve();
    expect(t.retransmits()).toHaveLength(4);
    t.clock.advance(499);
    expect(t.retransmits()).toHaveLength(4);
    t.clock.advance(1);
    expect(t.retransmits()).toHaveLength(5);
    expect(t.lost).toEqual([]);
  });

  it('does not skip a hole when the replay failed for a transient reason: it asks again later', async () => {
    const t = setup();
    t.rx.message(msg(3));
    // Retryable failures are retried by the request itself first, then the fetch fails.
    for (let i = 1; i <= 4; i++) {
      t.answer({ type: 'error', code: 4031, name: 'UNAVAILABLE', message: 'down', ref: `r${i}`, retryable: true, retryAfterMs: 10 });
      t.clock.advance(10);
    }
    await Promise.resolve();
    await Promise.resolve();
    expect(t.lost).toEqual([]);
    expect(t.delivered).toEqual([]);
    t.clock.advance(5000);
    expect(t.retransmits().at(-1)).toEqual({ type: 'retransmit', id: 'r5', conversation: C, fromSeq: 1, toSeq: 2 });
  });
});

/**
 * A receiver wired to a real Sender as the client wires them, the user `me`, over a stand-in
 * connection that records what is written: sends and acks are played by hand.
 */
function withSender(positions: Record<string, number> = { [C]: 0 }) {
  const late: { sender?: Sender } = {};
  const t = setup(positions, { user: () => 'me', unsettledSends: (c) => late.sender?.unsettled(c) ?? [] });
  const sent: ClientFrame[] = [];
  const conn = { isOpen: true, welcome: { user: 'me', limits: { dedupeWindowMs: 120_000, maxIdLength: 120 } }, write: (f: ClientFrame) => (sent.push(f), true) };
  let n = 0;
  const s = new Sender({
    clock: t.clock,
    random: () => 0.5,
    timeoutMs: 5000,
    maxInFlight: 100,
    connection: () => (conn.isOpen ? (conn as unknown as Connection) : undefined),
    nextId: (p) => `${p}${++n}`,
    acked: (c, seq) => t.rx.ownAck(c, seq),
    ended: (c) => t.rx.ownSendEnded(c),
  });
  late.sender = s;
  /** The ack of the latest attempt of the send with this clientMsgId. */
  const ack = (clientMsgId: string, conversation: string, seq: number, duplicate = false): void => {
    const ref = sent.filter((f) => f.type === 'send' && f.clientMsgId === clientMsgId).at(-1)?.id;
    if (ref === undefined) throw new Error(`${clientMsgId} was never written`);
    const frame: AckFrame = { type: 'ack', ref, messageId: `m${seq}`, conversation, seq, timestamp: seq, duplicate };
    expect(s.ack(frame)).toBe(true);
  };
  return { ...t, sender: s, sent, conn, ack };
}

describe('client receiver: its own sends', () => {
  it('does not hand back its own send whose echo arrives before the ack, and holds what follows in seq order until then', async () => {
    const t = withSender();
    const sent = t.sender.send({ room: 'r' }, 'mine', 'cm1');
    t.rx.message(msg(1, 'me')); // the echo, ahead of the ack
    t.rx.message(msg(2)); // another user's next message waits behind it
    expect(t.delivered).toEqual([]);
    expect(t.retransmits()).toEqual([]); // nothing is missing: 1 is here, undecided
    t.ack('cm1', C, 1);
    expect(t.delivered).toEqual([2]);
    expect((await sent).seq).toBe(1);
    expect(t.rx.counts).toMatchObject({ delivered: 1, duplicates: 1 });
    t.rx.message(msg(1, 'me')); // replayed again later: still a duplicate
    expect(t.delivered).toEqual([2]);
    t.clock.advance(1000);
    expect(t.out.filter((f) => f.type === 'delivery_ack')).toEqual([{ type: 'delivery_ack', conversation: C, seq: 2 }]);
  });

  it('drops the echo replayed by a resume after a reconnect, ahead of the ack of the resent send', () => {
    const t = withSender({ [C]: 1 });
    t.conn.isOpen = false;
    const queued = t.sender.send({ room: 'r' }, 'while-down', 'cm1');
    expect(t.sent).toEqual([]);
    // Reconnected: the outbox is written, then the resume replays what others sent meanwhile and ours.
    t.conn.isOpen = true;
    t.sender.connected();
    void t.rx.resumeAll(() => true, 256);
    t.answer(resumed('r1', 2, 5, 5));
    for (const m of [msg(2), msg(3), msg(4), msg(5, 'me')]) t.rx.message(m);
    expect(t.delivered).toEqual([2, 3, 4]);
    t.ack('cm1', C, 5);
    expect(t.delivered).toEqual([2, 3, 4]);
    expect(t.rx.position(C)).toBe(5);
    return queued;
  });

  it('delivers a message from another connection of its user once the sends it had in flight are acked with other seqs', () => {
    const dm = dmConversation('me', 'bob');
    const t = withSender({ [dm]: 0 });
    void t.sender.send({ user: 'bob' }, 'from this device', 'cm1');
    t.rx.message(msg(1, 'me', dm)); // the user's phone wrote seq 1; ours is still in flight
    expect(t.delivered).toEqual([]);
    void t.sender.send({ user: 'bob' }, 'later', 'cm2'); // written after it arrived: cannot be its echo
    t.ack('cm1', dm, 2);
    expect(t.delivered).toEqual([1]);
    t.rx.message(msg(2, 'me', dm)); // our echo, after its ack
    t.rx.message(msg(3, 'me', dm)); // the phone again, cm2 still in flight: held
    expect(t.delivered).toEqual([1]);
    t.ack('cm2', dm, 4);
    expect(t.delivered).toEqual([1, 3]);
    expect(t.rx.position(dm)).toBe(4);
  });

  it('delivers the message of a send that ended without an ack after its echo arrived: the application never had it', async () => {
    const t = withSender();
    const abort = new AbortController();
    const sent = t.sender.send({ room: 'r' }, 'given up', 'cm1', abort.signal);
    t.rx.message(msg(1, 'me'));
    expect(t.delivered).toEqual([]);
    abort.abort(new Error('user cancelled'));
    await expect(sent).rejects.toThrow('user cancelled');
    expect(t.delivered).toEqual([1]);
    // A refused send (non-retryable error) releases it the same way.
    const refused = t.sender.send({ room: 'r' }, 'refused', 'cm2');
    t.rx.message(msg(2, 'me'));
    const ref = t.sent.at(-1)?.type === 'send' ? (t.sent.at(-1) as { id: string }).id : '';
    expect(t.sender.error({ type: 'error', ref, code: 4012, name: 'FORBIDDEN', message: 'no', retryable: false })).toBe(true);
    await expect(refused).rejects.toMatchObject({ wireName: 'FORBIDDEN' });
    expect(t.delivered).toEqual([1, 2]);
  });

  it('holds nothing of other users, of conversations it is not sending to, or while no send of its own is in flight', () => {
    const t = withSender({ [C]: 0, 'room:other': 0 });
    t.rx.message(msg(1, 'me')); // nothing in flight: another device's (or an acked send's echo: dropped by its seq)
    void t.sender.send({ room: 'other' }, 'elsewhere', 'cm1');
    t.rx.message(msg(2, 'me'));
    void t.sender.send({ room: 'r' }, 'here', 'cm2');
    t.rx.message(msg(3)); // another user
    expect(t.delivered).toEqual([1, 2, 3]);
    t.rx.message({ ...msg(4, 'me'), event: 'failover_aside' }); // written by the runtime
    expect(t.delivered).toEqual([1, 2, 3, 4]);
  });

  it('a first message that may be its echo sets the baseline of an unknown conversation and waits for the ack', () => {
    const t = withSender({});
    void t.sender.send({ room: 'r' }, 'hello', 'cm1');
    t.rx.message(msg(7, 'me'));
    expect(t.delivered).toEqual([]);
    expect(t.rx.position(C)).toBe(6);
    t.ack('cm1', C, 7);
    expect(t.rx.position(C)).toBe(7);
    t.rx.message(msg(8));
    expect(t.delivered).toEqual([8]);
  });

  it('does not fetch again a replay that stopped at an undecided message: it is here, waiting for the ack', () => {
    const t = withSender();
    void t.sender.send({ room: 'r' }, 'x', 'cm1');
    t.rx.message(msg(3));
    expect(t.retransmits()).toEqual([{ type: 'retransmit', id: 'r1', conversation: C, fromSeq: 1, toSeq: 2 }]);
    t.answer(resumed('r1', 1, 2, 3));
    t.rx.message(msg(1));
    t.rx.message(msg(2, 'me')); // the echo, replayed ahead of the ack
    t.clock.advance(20_000); // the ack is slow: the replay looks stalled at 1
    expect(t.retransmits()).toHaveLength(1);
    t.ack('cm1', C, 2);
    expect(t.delivered).toEqual([1, 3]);
    t.clock.advance(20_000);
    expect(t.retransmits()).toHaveLength(1);
  });

  it('fetches a hole above an undecided message once it is decided, without the grace of an own ack', () => {
    const t = withSender();
    void t.sender.send({ room: 'r' }, 'x', 'cm1');
    t.rx.message(msg(1, 'me'));
    t.rx.message(msg(3));
    expect(t.retransmits()).toEqual([]);
    t.ack('cm1', C, 1);
    expect(t.retransmits()).toEqual([{ type: 'retransmit', id: 'r1', conversation: C, fromSeq: 2, toSeq: 2 }]);
    t.answer(resumed('r1', 2, 2, 3));
    t.rx.message(msg(2));
    expect(t.delivered).toEqual([2, 3]);
  });
});
