/**
 * One valid example of every frame type, both directions. Tests use them for round trips and as
 * seeds for the fuzzer; docs/protocol.md has its own examples, checked by docs.test.ts.
 */
import type { ClientFrame, ServerFrame } from '../../src/protocol/mod.js';
import { DEFAULT_LIMITS, dmConversation, roomConversation } from '../../src/protocol/mod.js';

const dm = dmConversation('alice', 'bob');
const room = roomConversation('team-1');

export const clientFrames: readonly ClientFrame[] = [
  { type: 'auth', id: 'a1', token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln' },
  { type: 'auth', id: 'a2', user: 'alice' },
  { type: 'send', id: 's1', to: { user: 'bob' }, body: { text: 'hi', n: [1, 2.5, null, true] }, clientMsgId: 'c-1' },
  { type: 'send', id: 's2', to: { room: 'team-1' }, body: 'plain string', clientMsgId: 'c-2' },
  { type: 'send', id: 's3', to: { user: 'x:y%z' }, body: null, clientMsgId: 'c-3' },
  { type: 'delivery_ack', conversation: dm, seq: 7 },
  { type: 'delivery_ack', id: 'd1', conversation: room, seq: 1 },
  { type: 'read', conversation: dm, seq: 7 },
  { type: 'join', id: 'j1', room: 'team-1' },
  { type: 'leave', id: 'l1', room: 'team-1' },
  { type: 'presence_query', id: 'p1', user: 'bob' },
  { type: 'presence_query', id: 'p2', room: 'team-1' },
  { type: 'subscribe_presence', id: 'sp1', user: 'bob' },
  { type: 'unsubscribe_presence', id: 'up1', room: 'team-1' },
  { type: 'heartbeat' },
  { type: 'heartbeat', id: 'h1', ts: 1_700_000_000_000 },
  { type: 'resume', id: 'r1', positions: { [dm]: 7, [room]: 0 } },
  { type: 'retransmit', id: 't1', conversation: dm, fromSeq: 3 },
  { type: 'retransmit', id: 't2', conversation: dm, fromSeq: 3, toSeq: 5 },
];

const state = { user: 'bob', online: true, regions: ['eu-west'], connections: 2 };

export const serverFrames: readonly ServerFrame[] = [
  {
    type: 'welcome',
    ref: 'a1',
    protocol: 1,
    region: 'eu-west',
    node: 'eu-west-1',
    session: 'sess-9f2',
    user: 'alice',
    heartbeatMs: 5000,
    idleTimeoutMs: 60000,
    limits: { ...DEFAULT_LIMITS, maxReplay: 1000, dedupeWindowMs: 120000 },
    rooms: ['team-*'],
    expiresAt: 1_700_003_600_000,
  },
  { type: 'ack', ref: 's1', messageId: 'm-1', conversation: dm, seq: 8, timestamp: 1_700_000_000_123, duplicate: false },
  { type: 'message', conversation: dm, seq: 8, messageId: 'm-1', from: 'alice', to: { user: 'bob' }, body: { text: 'hi' }, timestamp: 1_700_000_000_123, region: 'eu-west' },
  { type: 'message', conversation: room, seq: 2, messageId: 'm-2', from: 'bob', to: { room: 'team-1' }, body: [1, 'two'], timestamp: 1, region: 'us-east' },
  { type: 'receipt', kind: 'delivered', conversation: dm, user: 'bob', seq: 8, timestamp: 2 },
  { type: 'receipt', kind: 'read', conversation: dm, user: 'bob', seq: 8, timestamp: 3 },
  { type: 'presence', ref: 'p1', of: 'user', state },
  { type: 'presence', ref: 'p2', of: 'room', room: 'team-1', members: [state, { user: 'carol', online: false, regions: [], connections: 0, lastSeenAt: 5 }], truncated: false },
  { type: 'presence_event', event: 'join', user: 'carol', room: 'team-1', region: 'ap-southeast', timestamp: 4 },
  { type: 'presence_event', event: 'offline', user: 'bob', region: 'eu-west', timestamp: 5 },
  { type: 'joined', ref: 'j1', room: 'team-1', conversation: room, lastSeq: 2 },
  { type: 'left', ref: 'l1', room: 'team-1', conversation: room },
  { type: 'ok', ref: 'up1' },
  { type: 'heartbeat', ref: 'h1', ts: 1_700_000_000_001 },
  { type: 'heartbeat', ts: 1_700_000_000_002 },
  { type: 'resumed', ref: 'r1', conversation: dm, recovered: true, fromSeq: 8, toSeq: 9, lastSeq: 9 },
  { type: 'resumed', ref: 'r1', conversation: room, recovered: false, reason: 'history_gone', fromSeq: 40, toSeq: 41, lastSeq: 41 },
  { type: 'gap', conversation: room, fromSeq: 42, reason: 'slow_consumer' },
  { type: 'migrate', reason: 'drain', suggestedRegion: 'us-east', url: 'wss://us-east.example.com/ws', deadlineMs: 30000 },
  { type: 'error', code: 4002, name: 'INVALID_FIELD', message: 'to.user: must be 1-120 characters', ref: 's9', retryable: false, path: 'to.user' },
  { type: 'error', code: 4030, name: 'RATE_LIMITED', message: 'slow down', retryable: true, retryAfterMs: 250 },
];
