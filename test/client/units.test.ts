import { describe, it, expect } from 'vitest';
import { Backoff } from '../../src/client/backoff.js';
import { CursorBatcher } from '../../src/client/batcher.js';
import { ConversationCursor } from '../../src/client/cursor.js';
import { AsyncQueue, Emitter } from '../../src/client/events.js';
import { Outbox } from '../../src/client/outbox.js';
import { SendPacer } from '../../src/client/pacer.js';
import { closeAction } from '../../src/client/close-policy.js';
import { Heartbeat } from '../../src/client/heartbeat.js';
import { Requests } from '../../src/client/requests.js';
import type { ClientFrame, MessageFrame, ServerFrame } from '../../src/protocol/mod.js';
import { FakeClock, seeded } from './fake-clock.js';

function msg(seq: number, conversation = 'room:r'): MessageFrame {
  return { type: 'message', conversation, seq, messageId: `m${seq}`, from: 'a', to: { room: 'r' }, body: seq, timestamp: seq, region: 'us-east' };
}
const seqs = (ms: readonly MessageFrame[]): number[] => ms.map((m) => m.seq);

describe('client backoff', () => {
  it('draws full jitter under a cap that doubles from 250 ms to 30 s', () => {
    const b = new Backoff({}, () => 0.999999);
    const delays = Array.from({ length: 12 }, () => b.next());
    expect(delays.slice(0, 8)).toEqual([249, 499, 999, 1999, 3999, 7999, 15999, 29999]);
    expect(delays.slice(8).every((d) => d === 29999)).toBe(true);
    const zero = new Backoff({}, () => 0);
    expect([zero.next(), zero.next()]).toEqual([0, 0]);
  });

  it('spreads delays uniformly below the cap', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 1000 }, seeded(7));
    const ds = Array.from({ length: 2000 }, () => b.next());
    expect(Math.min(...ds)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ds)).toBeLessThan(1000);
    const mean = ds.reduce((a, d) => a + d, 0) / ds.length;
    expect(mean).toBeGreaterThan(450);
    expect(mean).toBeLessThan(550);
  });

  it('resets after a connection stayed up a minute, not after a shorter one', () => {
    const b = new Backoff({}, () => 0.999999);
    b.next();
    b.next();
    b.next();
    b.up(0);
    b.down(59_999);
    expect(b.ceiling()).toBe(2000);
    b.up(100_000);
    b.down(160_000);
    expect(b.ceiling()).toBe(250);
    expect(b.attempts).toBe(0);
  });
});

describe('client conversation cursor', () => {
  it('delivers in seq order, holding what arrives above a hole', () => {
    const c = new ConversationCursor('room:r', 0);
    expect(seqs(c.offer(msg(1)).deliver)).toEqual([1]);
    expect(seqs(c.offer(msg(3)).deliver)).toEqual([]);
    expect(seqs(c.offer(msg(4)).deliver)).toEqual([]);
    expect(c.missing()).toEqual({ from: 2, to: 2 });
    expect(seqs(c.offer(msg(2)).deliver)).toEqual([2, 3, 4]);
    expect(c.position).toBe(4);
    expect(c.missing()).toBeUndefined();
  });

  it('drops a seq it already has, delivered or held', () => {
    const c = new ConversationCursor('room:r', 5);
    expect(c.offer(msg(5)).duplicate).toBe(true);
    expect(c.offer(msg(7)).duplicate).toBe(false);
    expect(c.offer(msg(7)).duplicate).toBe(true);
    expect(seqs(c.offer(msg(6)).deliver)).toEqual([6, 7]);
    expect(c.offer(msg(6)).duplicate).toBe(true);
  });

  it('takes the first sighting of an unknown conversation as its baseline', () => {
    const c = new ConversationCursor('dm:a:b');
    expect(c.missing()).toBeUndefined();
    expect(seqs(c.offer(msg(41, 'dm:a:b')).deliver)).toEqual([41]);
    expect(c.position).toBe(41);
    const r = new ConversationCursor('room:r');
    r.baseline(17);
    r.baseline(3); // once known, a baseline changes nothing
    expect(r.position).toBe(17);
  });

  it('an own ack seen first is not a baseline: a message of the other side sent just before it still arrives', () => {
    // The ack for our seq 2 overtook the live copy of the partner's seq 1 (the first message of a new DM).
    const c = new ConversationCursor('dm:a:b');
    expect(c.markOwn(2)).toEqual({ deliver: [], duplicate: false });
    expect(c.position).toBeUndefined();
    expect(seqs(c.offer(msg(1, 'dm:a:b')).deliver)).toEqual([1]);
    expect(c.position).toBe(2);
    expect(c.offer(msg(2, 'dm:a:b')).duplicate).toBe(true); // the echo of our own send
    // With nothing before it in flight, the echo of our send is the first sighting.
    const d = new ConversationCursor('dm:a:b');
    d.markOwn(7);
    expect(d.offer(msg(7, 'dm:a:b'))).toEqual({ deliver: [], duplicate: true });
    expect(d.position).toBe(7);
    expect(seqs(d.offer(msg(8, 'dm:a:b')).deliver)).toEqual([8]);
    // A first sighting above own acks: those acks are history, as everything before it.
    const e = new ConversationCursor('dm:a:b');
    e.markOwn(3);
    expect(seqs(e.offer(msg(5, 'dm:a:b')).deliver)).toEqual([5]);
    expect(e.position).toBe(5);
  });

  it('holds an undecided message and what follows until an own ack claims it or it is decided', () => {
    const c = new ConversationCursor('room:r', 0);
    expect(c.offer(msg(1), true)).toEqual({ deliver: [], duplicate: false });
    expect(c.isUndecided(1)).toBe(true);
    expect(seqs(c.offer(msg(2)).deliver)).toEqual([]);
    expect(c.offer(msg(1))).toEqual({ deliver: [], duplicate: true }); // a replay of it
    expect(c.offer(msg(4)).deliver).toEqual([]);
    expect(c.missing()).toBeUndefined(); // the hole at 3 waits for the decision
    expect(seqs(c.markOwn(1).deliver)).toEqual([2]);
    expect(c.position).toBe(2);
    expect(c.missing()).toEqual({ from: 3, to: 3 });
    // Decided not ours: handed over in its place, in order.
    expect(c.offer(msg(3), true).deliver).toEqual([]);
    expect(c.decide(7)).toEqual([]); // nothing undecided there
    expect(seqs(c.decide(3))).toEqual([3, 4]);
    expect(c.isUndecided(3)).toBe(false);
    // Skipped as history, it is no longer waited for.
    c.offer(msg(6), true);
    c.offer(msg(7));
    expect(seqs(c.skipTo(7))).toEqual([7]);
    expect(c.isUndecided(6)).toBe(false);
  });

  it('a baseline set after own acks were held drops those at or below it and keeps the rest', () => {
    const c = new ConversationCursor('room:r');
    c.markOwn(5);
    c.markOwn(7);
    c.baseline(5);
    expect(c.position).toBe(5);
    expect(c.missing()).toEqual({ from: 6, to: 6 });
    expect(seqs(c.offer(msg(6)).deliver)).toEqual([6]);
    expect(c.position).toBe(7);
  });

  it('counts own acked seqs as present without delivering them', () => {
    const c = new ConversationCursor('room:r', 1);
    expect(c.markOwn(3).deliver).toEqual([]);
    expect(c.missing()).toEqual({ from: 2, to: 2 });
    expect(seqs(c.offer(msg(2)).deliver)).toEqual([2]);
    expect(c.position).toBe(3);
    expect(c.offer(msg(3)).duplicate).toBe(true);
  });

  it('skips history the server no longer has and releases what was behind it', () => {
    const c = new ConversationCursor('room:r', 2);
    c.offer(msg(9));
    c.offer(msg(11));
    expect(seqs(c.skipTo(9))).toEqual([9]);
    expect(c.position).toBe(9);
    expect(c.missing()).toEqual({ from: 10, to: 10 });
    expect(c.offer(msg(9)).duplicate).toBe(true);
    const d = new ConversationCursor('room:r', 2);
    expect(seqs(d.skipTo(5))).toEqual([]);
    expect(d.position).toBe(4);
    expect(d.skipTo(3)).toEqual([]); // never moves back
    expect(seqs(d.offer(msg(5)).deliver)).toEqual([5]);
    expect(d.position).toBe(5);
  });

  it('bounds what it holds and then reports an open-ended hole until caught up', () => {
    const c = new ConversationCursor('room:r', 0, 3);
    for (const s of [2, 3, 4, 5, 6]) c.offer(msg(s));
    expect(c.heldCount).toBe(3);
    expect(c.missing()).toEqual({ from: 1, to: undefined });
    expect(seqs(c.offer(msg(1)).deliver)).toEqual([1, 2, 3, 4]);
    expect(c.missing()).toEqual({ from: 5, to: undefined });
    c.caughtUp();
    expect(c.missing()).toBeUndefined();
  });
});

describe('client cursor batching', () => {
  it('sends the highest seq per conversation once per batch, within the delay', () => {
    const clock = new FakeClock();
    const written: (readonly [string, number])[][] = [];
    const b = new CursorBatcher(clock, 1000, (batch) => (written.push([...batch]), true));
    b.mark('room:a', 1);
    b.mark('room:a', 3);
    b.mark('dm:x:y', 2);
    b.mark('room:a', 2); // lower: ignored
    clock.advance(999);
    expect(written).toEqual([]);
    clock.advance(1);
    expect(written).toEqual([[['room:a', 3], ['dm:x:y', 2]]]);
    b.mark('room:a', 3); // already sent
    clock.advance(5000);
    expect(written).toHaveLength(1);
    b.mark('room:a', 4);
    clock.advance(1000);
    expect(written[1]).toEqual([['room:a', 4]]);
  });

  it('keeps a batch it could not write and writes it on the next flush', () => {
    const clock = new FakeClock();
    let up = false;
    const written: (readonly [string, number])[] = [];
    const b = new CursorBatcher(clock, 100, (batch) => (up ? (written.push(...batch), true) : false));
    b.mark('room:a', 5);
    clock.advance(100);
    expect(b.pending).toBe(1);
    up = true;
    b.mark('room:a', 6);
    b.flush();
    expect(written).toEqual([['room:a', 6]]);
    expect(b.pending).toBe(0);
    expect(b.cursor('room:a')).toBe(6);
  });
});

describe('client outbox', () => {
  it('keeps sends in order and finds them by any attempt id', () => {
    const o = new Outbox();
    const a = o.add('k1', { user: 'bob' }, 'one').entry;
    const b = o.add('k2', { room: 'r' }, 'two').entry;
    expect(o.add('k1', { user: 'bob' }, 'again')).toEqual({ entry: a, added: false });
    o.attempt(a, 's1', 100);
    o.attempt(a, 's3', 200);
    expect(a.firstWrittenAt).toBe(100);
    expect(a.attempts).toBe(2);
    expect(o.forFrame('s1')).toBe(a);
    expect(o.forFrame('s3')).toBe(a);
    expect(o.all().map((e) => e.clientMsgId)).toEqual(['k1', 'k2']);
    o.remove(a);
    expect(o.forFrame('s1')).toBeUndefined();
    expect(o.all()).toEqual([b]);
    void a.promise.catch(() => undefined);
  });

  it('says a send is expired only once written and past the dedupe window', () => {
    const o = new Outbox();
    const e = o.add('k', { user: 'bob' }, null).entry;
    expect(Outbox.expired(e, 10_000_000, 120_000)).toBe(false);
    o.attempt(e, 's1', 1000);
    expect(Outbox.expired(e, 120_999, 120_000)).toBe(false);
    expect(Outbox.expired(e, 121_000, 120_000)).toBe(true);
  });
});

describe('client events', () => {
  it('an async queue yields pushed values, then ends or throws once', async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    const pending = q.next();
    expect(await pending).toEqual({ value: 1, done: false });
    const later = q.next();
    q.push(2);
    expect(await later).toEqual({ value: 2, done: false });
    q.end(new Error('boom'));
    await expect(q.next()).rejects.toThrow('boom');
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  it('an emitter isolates a throwing handler and unsubscribes', () => {
    const e = new Emitter<{ x: number }>();
    const got: number[] = [];
    const errors: unknown[] = [];
    e.on('x', () => {
      throw new Error('handler');
    });
    const off = e.on('x', (v) => got.push(v));
    e.emit('x', 1, (err) => errors.push(err));
    off();
    e.emit('x', 2, (err) => errors.push(err));
    expect(got).toEqual([1]);
    expect(errors).toHaveLength(2);
  });
});

describe('client send pacing', () => {
  it('caps sends in flight and admits at once otherwise', () => {
    const p = new SendPacer(3);
    expect(p.admit(0, 0)).toBe(0);
    expect(p.admit(0, 2)).toBe(0);
    expect(p.admit(0, 3)).toBe(-1);
    expect(p.paced(0)).toBe(false);
  });

  it('after RATE_LIMITED, waits the retry time, then writes one per 1.25 × the largest retry time, until it stays quiet', () => {
    const p = new SendPacer(100, 2000);
    p.limited(1000, 8);
    p.limited(1000, 20);
    expect(p.admit(1000, 0)).toBe(20);
    expect(p.admit(1020, 0)).toBe(0);
    p.wrote(1020);
    expect(p.admit(1030, 1)).toBe(15); // paced: 25 ms apart
    p.wrote(1045);
    expect(p.paced(2999)).toBe(true);
    expect(p.paced(3000)).toBe(false);
    expect(p.admit(3000, 0)).toBe(0);
    p.wrote(3000);
    expect(p.admit(3000, 1)).toBe(0); // no longer paced
    p.limited(4000, undefined); // no retryAfterMs: 250 ms
    expect(p.admit(4000, 0)).toBe(250);
    p.reset();
    expect(p.admit(4000, 0)).toBe(0);
  });
});

describe('client close policy', () => {
  it('reconnects after reconnect-range, standard transient and normal closes, stops on terminal ones', () => {
    for (const code of [4500, 4501, 4502, 4503, 4504, 4505, 4600, 1001, 1006, 1011, 1012, 1013, 1014, 1000]) expect(closeAction(code, false), String(code)).toBe('reconnect');
    for (const code of [4750, 4752, 4753, 4999, 1002, 1003, 1007, 1008, 1009, 1010]) expect(closeAction(code, true), String(code)).toBe('terminal');
  });

  it('treats TOKEN_EXPIRED as terminal unless a fresh token can be fetched', () => {
    expect(closeAction(4751, false)).toBe('terminal');
    expect(closeAction(4751, true)).toBe('reconnect');
  });
});

describe('client heartbeat', () => {
  /** A connection stand-in: `answer` says whether the server answers heartbeats at once. */
  function setup(answer: boolean) {
    const clock = new FakeClock();
    let n = 0;
    const hb = new Heartbeat(clock, () => `h${++n}`);
    const state = { lastReceivedAt: clock.now(), sent: 0, abandoned: '' };
    const conn = {
      get isOpen() {
        return state.abandoned === '';
      },
      get lastReceivedAt() {
        return state.lastReceivedAt;
      },
      write: (f: { type: string; id?: string }) => {
        state.sent += 1;
        if (answer) {
          state.lastReceivedAt = clock.now();
          hb.pong(f.id);
        }
        return true;
      },
      abandon: (reason: string) => void (state.abandoned = reason),
    };
    hb.start(conn, 1000);
    return { clock, hb, state };
  }

  it('sends one heartbeat per interval while answered, and never gives up', () => {
    const { clock, hb, state } = setup(true);
    clock.advance(10_000);
    expect(state.sent).toBe(10);
    expect(hb.answered).toBe(10);
    expect(hb.rttMs).toBe(0);
    expect(state.abandoned).toBe('');
  });

  it('abandons the connection after exactly 2 × heartbeatMs with nothing received', () => {
    const { clock, state } = setup(false);
    clock.advance(1999);
    expect(state.sent).toBe(1);
    expect(state.abandoned).toBe('');
    clock.advance(1);
    expect(state.abandoned).toBe('heartbeat timeout');
  });

  it('counts any frame received as life, not only answers', () => {
    const { clock, state } = setup(false);
    for (let i = 0; i < 10; i++) {
      clock.advance(1500);
      state.lastReceivedAt = clock.now(); // a message arrived
    }
    expect(state.abandoned).toBe('');
    clock.advance(2000);
    expect(state.abandoned).toBe('heartbeat timeout');
  });
});

describe('client requests', () => {
  const setup = () => {
    const clock = new FakeClock();
    const out: ClientFrame[] = [];
    let n = 0;
    const requests = new Requests(clock, 5000, { write: (f) => (out.push(f), true), nextId: () => `r${++n}` });
    return { clock, out, requests };
  };
  const resumed = (ref: string, conversation: string): ServerFrame & { ref: string } => ({ type: 'resumed', ref, conversation, recovered: true, fromSeq: 1, toSeq: 0, lastSeq: 0 });
  const unavailable = (ref: string): ServerFrame & { ref: string } => ({ type: 'error', code: 4031, name: 'UNAVAILABLE', message: 'down', ref, retryable: true, retryAfterMs: 10 });

  it('collects a whole set of answers again on each retry: answers of a failed attempt do not complete the next', async () => {
    const t = setup();
    let settled: ServerFrame[] | Error | undefined;
    t.requests.request({ answers: 2, frame: (id) => ({ type: 'resume', id, positions: { 'room:a': 0, 'room:b': 0 } }) }).then(
      (f) => (settled = f),
      (e: Error) => (settled = e),
    );
    t.requests.answer(resumed('r1', 'room:a'));
    t.requests.answer(unavailable('r1'));
    t.clock.advance(10);
    t.requests.answer(resumed('r2', 'room:a'));
    await Promise.resolve();
    expect(settled).toBeUndefined();
    t.requests.answer(resumed('r2', 'room:b'));
    await Promise.resolve();
    expect((settled as ServerFrame[]).map((f) => f.type === 'resumed' && f.conversation)).toEqual(['room:a', 'room:b']);
  });

  it('with errorsAnswer, an error is one answer among the others and nothing is retried', async () => {
    const t = setup();
    let settled: ServerFrame[] | undefined;
    void t.requests.request({ answers: 2, errorsAnswer: true, frame: (id) => ({ type: 'resume', id, positions: { 'room:a': 0, 'room:b': 0 } }) }).then((f) => (settled = f));
    t.requests.answer(unavailable('r1'));
    t.clock.advance(10);
    expect(t.out).toHaveLength(1);
    t.requests.answer(resumed('r1', 'room:a'));
    await Promise.resolve();
    expect(settled?.map((f) => f.type)).toEqual(['error', 'resumed']);
  });
});
