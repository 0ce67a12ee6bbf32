// Messaging semantics end to end: real WebSocket clients against three regions in one process
// on the embedded bus (10 ms one-way links): direct and room messages across regions, acks after
// durability, dedupe, ordering, the offline inbox, receipts, resume and retransmit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDeployment } from '../../src/runtime/deployment.js';
import type { Deployment } from '../../src/runtime/deployment.js';
import { TestClient } from './client.js';
import { oneRegion, threeRegions } from './fixtures.js';

let d: Deployment;
const clients: TestClient[] = [];
async function dev(region: string, user: string): Promise<TestClient> {
  const c = await TestClient.dev(d.wsUrl(region), user);
  clients.push(c);
  return c;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  d = await startEmbeddedDeployment(threeRegions(), { dataDir: ':memory:' });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await d?.close();
});

describe('direct messages', () => {
  it('reach every connection of the recipient in every region and the sender\'s other connections', async () => {
    const a1 = await dev('us-east', 'u1-alice');
    const a2 = await dev('ap-southeast', 'u1-alice');
    const b1 = await dev('eu-west', 'u1-bob');
    const b2 = await dev('us-east', 'u1-bob');
    const ack = await a1.request({ type: 'send', id: 's1', to: { user: 'u1-bob' }, body: { text: 'hi' }, clientMsgId: 'k1' });
    expect(ack).toMatchObject({ type: 'ack', conversation: 'dm:u1-alice:u1-bob', seq: 1, duplicate: false });
    for (const c of [b1, b2, a2, a1]) {
      const m = await c.next('message');
      expect(m).toMatchObject({ conversation: 'dm:u1-alice:u1-bob', seq: 1, from: 'u1-alice', to: { user: 'u1-bob' }, body: { text: 'hi' }, region: 'us-east' });
      expect(m.messageId).toBe((ack as { messageId: string }).messageId);
    }
  });

  it('are acked only once durable: the log of the conversation has them when the ack arrives', async () => {
    const a = await dev('ap-southeast', 'u2-alice');
    const ack = (await a.request({ type: 'send', id: 's', to: { user: 'u2-bob' }, body: 'stored?', clientMsgId: 'k' })) as { seq: number; conversation: string };
    const page = await d.region('eu-west').messaging.history(ack.conversation, { after: 0 });
    expect(page.messages.map((m) => [m.seq, m.body])).toEqual([[ack.seq, 'stored?']]);
  });

  it('deduplicate a retried send: same ack with duplicate:true, delivered once', async () => {
    const a = await dev('us-east', 'u3-alice');
    const b = await dev('eu-west', 'u3-bob');
    const first = await a.request({ type: 'send', id: 's1', to: { user: 'u3-bob' }, body: 'once', clientMsgId: 'same' });
    const again = await a.request({ type: 'send', id: 's2', to: { user: 'u3-bob' }, body: 'once', clientMsgId: 'same' });
    expect(again).toMatchObject({ ...first, ref: 's2', duplicate: true });
    await b.next('message');
    await sleep(100);
    expect(b.messages()).toEqual([]);
  });

  it('are delivered from the offline inbox in another region, in order, once per delivery cursor', async () => {
    const a = await dev('us-east', 'u4-alice');
    for (let i = 1; i <= 3; i++) await a.request({ type: 'send', id: `s${i}`, to: { user: 'u4-bob' }, body: i, clientMsgId: `k${i}` });
    const b = await dev('ap-southeast', 'u4-bob');
    const got = await b.waitMessages('dm:u4-alice:u4-bob', 3);
    expect(got.map((m) => m.seq)).toEqual([1, 2, 3]);
    // The cursor: acknowledged messages are not replayed on the next connection.
    b.send({ type: 'delivery_ack', conversation: 'dm:u4-alice:u4-bob', seq: 3 });
    const receipt = await a.next('receipt');
    expect(receipt).toMatchObject({ kind: 'delivered', conversation: 'dm:u4-alice:u4-bob', user: 'u4-bob', seq: 3 });
    await b.close();
    await a.request({ type: 'send', id: 's4', to: { user: 'u4-bob' }, body: 4, clientMsgId: 'k4' });
    const b2 = await dev('eu-west', 'u4-bob');
    const later = await b2.waitMessages('dm:u4-alice:u4-bob', 1);
    await sleep(100);
    expect(b2.messages().map((m) => m.seq)).toEqual([4]);
    expect(later[0]!.body).toBe(4);
  });

  it('never repeat a message when resume overlaps the inbox replay', async () => {
    const a = await dev('us-east', 'u5-alice');
    for (let i = 1; i <= 5; i++) await a.request({ type: 'send', id: `s${i}`, to: { user: 'u5-bob' }, body: i, clientMsgId: `k${i}` });
    const b = await TestClient.open(d.wsUrl('eu-west'));
    clients.push(b);
    b.send({ type: 'auth', id: 'a', user: 'u5-bob' });
    await b.next('welcome');
    b.send({ type: 'resume', id: 'r', positions: { 'dm:u5-alice:u5-bob': 0 } });
    await b.next('resumed');
    await a.request({ type: 'send', id: 's6', to: { user: 'u5-bob' }, body: 6, clientMsgId: 'k6' });
    await b.waitMessages('dm:u5-alice:u5-bob', 6);
    await sleep(100);
    expect(b.messages().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('relay read receipts to the sender', async () => {
    const a = await dev('us-east', 'u6-alice');
    const b = await dev('ap-southeast', 'u6-bob');
    await a.request({ type: 'send', id: 's', to: { user: 'u6-bob' }, body: 'read me', clientMsgId: 'k' });
    await b.next('message');
    b.send({ type: 'read', conversation: 'dm:u6-alice:u6-bob', seq: 1 });
    expect(await a.next('receipt', (r) => r.kind === 'read')).toMatchObject({ user: 'u6-bob', seq: 1 });
  });
});

describe('rooms', () => {
  it('reach every member in every region (and not others), with dense seqs in one order for all', async () => {
    const members = [await dev('us-east', 'r-ann'), await dev('eu-west', 'r-ben'), await dev('ap-southeast', 'r-cat')];
    const outsider = await dev('eu-west', 'r-out');
    for (const m of members) expect(await m.request({ type: 'join', id: 'j', room: 'standup' })).toMatchObject({ type: 'joined', room: 'standup', conversation: 'room:standup', lastSeq: 0 });
    // Concurrent senders in three regions, 10 messages each, without waiting for acks.
    members.forEach((m, i) => {
      for (let k = 0; k < 10; k++) m.send({ type: 'send', id: `s${k}`, to: { room: 'standup' }, body: { by: i, k }, clientMsgId: `r${i}-${k}` });
    });
    const seen = await Promise.all(members.map((m) => m.waitMessages('room:standup', 30)));
    const order = seen[0]!.map((m) => m.seq);
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const s of seen) expect(s.map((m) => m.messageId)).toEqual(seen[0]!.map((m) => m.messageId));
    // Each sender's messages keep their send order.
    for (let i = 0; i < 3; i++) {
      const ks = seen[0]!.filter((m) => (m.body as { by: number }).by === i).map((m) => (m.body as { k: number }).k);
      expect(ks).toEqual([...Array(10).keys()]);
    }
    await sleep(50);
    expect(outsider.messages()).toEqual([]);
  });

  it('stop after leave, and resume in another region from the last seq', async () => {
    const ann = await dev('us-east', 'r2-ann');
    const cat = await dev('ap-southeast', 'r2-cat');
    await ann.request({ type: 'join', id: 'j', room: 'r2' });
    await cat.request({ type: 'join', id: 'j', room: 'r2' });
    for (let i = 1; i <= 3; i++) await ann.request({ type: 'send', id: `s${i}`, to: { room: 'r2' }, body: i, clientMsgId: `a${i}` });
    await cat.waitMessages('room:r2', 3);
    expect(await cat.request({ type: 'leave', id: 'l', room: 'r2' })).toMatchObject({ type: 'left', conversation: 'room:r2' });
    await cat.close();
    for (let i = 4; i <= 6; i++) await ann.request({ type: 'send', id: `s${i}`, to: { room: 'r2' }, body: i, clientMsgId: `a${i}` });
    const cat2 = await dev('eu-west', 'r2-cat');
    expect(await cat2.request({ type: 'join', id: 'j', room: 'r2' })).toMatchObject({ lastSeq: 6 });
    cat2.send({ type: 'resume', id: 'r', positions: { 'room:r2': 3 } });
    expect(await cat2.next('resumed')).toMatchObject({ ref: 'r', conversation: 'room:r2', recovered: true, fromSeq: 4, toSeq: 6, lastSeq: 6 });
    await ann.request({ type: 'send', id: 's7', to: { room: 'r2' }, body: 7, clientMsgId: 'a7' });
    const got = await cat2.waitMessages('room:r2', 4);
    expect(got.map((m) => m.seq)).toEqual([4, 5, 6, 7]);
  });

  it('retransmit a range on request, even below what the connection already has', async () => {
    const ann = await dev('eu-west', 'r3-ann');
    await ann.request({ type: 'join', id: 'j', room: 'r3' });
    for (let i = 1; i <= 4; i++) await ann.request({ type: 'send', id: `s${i}`, to: { room: 'r3' }, body: i, clientMsgId: `a${i}` });
    await ann.waitMessages('room:r3', 4);
    ann.frames.length = 0;
    expect(await ann.request({ type: 'retransmit', id: 't', conversation: 'room:r3', fromSeq: 2, toSeq: 3 })).toMatchObject({ type: 'resumed', recovered: true, fromSeq: 2, toSeq: 3, lastSeq: 4 });
    expect((await ann.waitMessages('room:r3', 2)).map((m) => m.seq)).toEqual([2, 3]);
  });
});

describe('replay limits and lost history', () => {
  let solo: Deployment;
  beforeAll(async () => {
    solo = await startEmbeddedDeployment(oneRegion(), { dataDir: ':memory:', region: { node: { limits: { maxReplay: 3 } }, logOptions: { maxPerConversation: 5 } } });
  });
  afterAll(async () => {
    await solo?.close();
  });

  it('pages replays by maxReplay and reports history gone to retention as recovered:false', async () => {
    const a = await TestClient.dev(solo.wsUrl('solo'), 'alice');
    for (let i = 1; i <= 8; i++) await a.request({ type: 'send', id: `s${i}`, to: { room: 'keep' }, body: i, clientMsgId: `k${i}` });
    // Seqs 1-3 are gone (only the newest 5 are kept).
    const b = await TestClient.dev(solo.wsUrl('solo'), 'bob');
    expect(await b.request({ type: 'resume', id: 'r', positions: { 'room:keep': 0 } })).toMatchObject({ recovered: false, reason: 'history_gone', fromSeq: 4, toSeq: 6, lastSeq: 8 });
    expect((await b.waitMessages('room:keep', 3)).map((m) => m.seq)).toEqual([4, 5, 6]);
    expect(await b.request({ type: 'retransmit', id: 't', conversation: 'room:keep', fromSeq: 7 })).toMatchObject({ recovered: true, fromSeq: 7, toSeq: 8, lastSeq: 8 });
    expect((await b.waitMessages('room:keep', 5)).map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    // Nothing missed: fromSeq = position + 1, toSeq = position.
    expect(await b.request({ type: 'resume', id: 'r2', positions: { 'room:keep': 8 } })).toMatchObject({ recovered: true, fromSeq: 9, toSeq: 8 });
    // A position beyond the last seq is bogus.
    expect(await b.request({ type: 'resume', id: 'r3', positions: { 'room:keep': 99 } })).toMatchObject({ type: 'error', name: 'BAD_SEQUENCE', path: 'positions.room:keep' });
    await a.close();
    await b.close();
  });

  it('replays an offline inbox longer than maxReplay to the end, in order', async () => {
    const a = await TestClient.dev(solo.wsUrl('solo'), 'inbox-a');
    for (let i = 1; i <= 5; i++) await a.request({ type: 'send', id: `s${i}`, to: { user: 'inbox-b' }, body: i, clientMsgId: `k${i}` });
    const b = await TestClient.dev(solo.wsUrl('solo'), 'inbox-b');
    expect((await b.waitMessages('dm:inbox-a:inbox-b', 5)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    await a.request({ type: 'send', id: 's6', to: { user: 'inbox-b' }, body: 6, clientMsgId: 'k6' });
    expect((await b.waitMessages('dm:inbox-a:inbox-b', 6)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    await a.close();
    await b.close();
  });
});
