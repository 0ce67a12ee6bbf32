// The access rules (src/node/access-rules.ts) the WebSocket session and the HTTP API share: who
// may read, send, join and see presence. Users are built with the real room matcher of a token's
// `rooms` claim (src/node/auth.ts), conversations with the real parser, so a change in either
// that loosens a rule fails here.
import { describe, expect, it } from 'vitest';
import { mayJoin, mayQueryPresence, mayRead, mayReadId, maySend, maySendAs, NOT_A_PARTICIPANT, noRoomCapability } from '../../src/node/access-rules.js';
import type { Principal } from '../../src/node/access-rules.js';
import { roomMatcher } from '../../src/node/auth.js';
import { dmConversation, parseConversation } from '../../src/protocol/mod.js';
import type { Conversation } from '../../src/protocol/mod.js';

const user = (name: string, rooms: string[]): Principal => ({ user: name, canJoin: roomMatcher(rooms) });
const ann = user('ann', ['team-*', 'lobby']);
const bob = user('bob', []);
const everyRoom = user('eve', ['*']);

function conv(id: string): Conversation {
  const c = parseConversation(id);
  if (!c) throw new Error(`not a conversation: ${id}`);
  return c;
}

describe('mayRead', () => {
  it('a direct conversation: its two users only, whatever rooms they hold', () => {
    const annBob = conv(dmConversation('ann', 'bob'));
    expect(mayRead(ann, annBob)).toBe(true);
    expect(mayRead(bob, annBob)).toBe(true);
    expect(mayRead(everyRoom, annBob)).toBe(false);
    expect(mayRead(user('ann2', ['*']), annBob)).toBe(false);
  });

  it('a direct conversation with oneself is readable by that user', () => {
    expect(mayRead(ann, conv(dmConversation('ann', 'ann')))).toBe(true);
    expect(mayRead(bob, conv(dmConversation('ann', 'ann')))).toBe(false);
  });

  it('a room: the holders of its capability (patterns match the whole id)', () => {
    expect(mayRead(ann, conv('room:team-red'))).toBe(true);
    expect(mayRead(ann, conv('room:lobby'))).toBe(true);
    expect(mayRead(ann, conv('room:lobby2'))).toBe(false);
    expect(mayRead(ann, conv('room:my-team-red'))).toBe(false);
    expect(mayRead(bob, conv('room:lobby'))).toBe(false);
    expect(mayRead(everyRoom, conv('room:anything'))).toBe(true);
  });

  it('dev reads everything (it stands for any user); an operator key reads nothing', () => {
    for (const c of [conv(dmConversation('ann', 'bob')), conv('room:x')]) {
      expect(mayRead('dev', c)).toBe(true);
      expect(mayRead('operator', c)).toBe(false);
    }
  });
});

describe('maySend', () => {
  it('a user sends to any user, and to the rooms it holds', () => {
    expect(maySend(bob, { user: 'ann' })).toEqual({ ok: true });
    expect(maySend(ann, { room: 'team-blue' })).toEqual({ ok: true });
    expect(maySend(ann, { room: 'other' })).toEqual({ ok: false, path: 'to.room', reason: 'no capability for room "other"' });
    expect(maySend(bob, { room: 'lobby' })).toMatchObject({ ok: false, path: 'to.room' });
  });

  it('a user sends only as itself: `from` may be left out or name it', () => {
    expect(maySend(ann, { user: 'bob' }, 'ann')).toEqual({ ok: true });
    expect(maySend(ann, { user: 'bob' }, 'bob')).toEqual({ ok: false, path: 'from', reason: 'must be the token\'s user (or be left out)' });
    // The sender is checked before the room: the answer names `from`.
    expect(maySend(ann, { room: 'other' }, 'bob')).toMatchObject({ ok: false, path: 'from' });
    // The same check alone, for a request whose target is parsed later.
    expect(maySendAs(ann, undefined)).toEqual({ ok: true });
    expect(maySendAs(ann, 'ann')).toEqual({ ok: true });
    expect(maySendAs(ann, 'bob')).toMatchObject({ ok: false, path: 'from' });
    expect(maySendAs(ann, 7)).toMatchObject({ ok: false, path: 'from' });
  });

  it('dev and operator send as the user they name, to any user or room', () => {
    for (const who of ['dev', 'operator'] as const) {
      expect(maySend(who, { room: 'anything' }, 'zed')).toEqual({ ok: true });
      expect(maySend(who, { user: 'bob' }, 'ann')).toEqual({ ok: true });
      expect(maySendAs(who, 'anyone')).toEqual({ ok: true });
    }
  });
});

describe('mayJoin', () => {
  it('holders of the room capability; dev any room; an operator key none', () => {
    expect(mayJoin(ann, 'team-')).toBe(true);
    expect(mayJoin(ann, 'lobby')).toBe(true);
    expect(mayJoin(ann, 'Lobby')).toBe(false);
    expect(mayJoin(bob, 'lobby')).toBe(false);
    expect(mayJoin('dev', 'lobby')).toBe(true);
    expect(mayJoin('operator', 'lobby')).toBe(false);
  });
});

describe('mayQueryPresence', () => {
  it('any user sees any user; a room only for those who may join it', () => {
    expect(mayQueryPresence(bob, { user: 'ann' })).toBe(true);
    expect(mayQueryPresence(bob, { room: 'lobby' })).toBe(false);
    expect(mayQueryPresence(ann, { room: 'lobby' })).toBe(true);
    expect(mayQueryPresence(ann, { room: 'elsewhere' })).toBe(false);
  });

  it('dev sees all; an operator key sees none (it carries no user)', () => {
    expect(mayQueryPresence('dev', { user: 'ann' })).toBe(true);
    expect(mayQueryPresence('dev', { room: 'lobby' })).toBe(true);
    expect(mayQueryPresence('operator', { user: 'ann' })).toBe(false);
    expect(mayQueryPresence('operator', { room: 'lobby' })).toBe(false);
  });
});

describe('refusal texts', () => {
  it('quote the room, cut to 64 characters', () => {
    expect(noRoomCapability('r'.repeat(100))).toBe(`no capability for room "${'r'.repeat(64)}"`);
    expect(NOT_A_PARTICIPANT).toBe('not a participant of this conversation');
  });
});

describe('mayReadId', () => {
  it('parses the id as sent: only the canonical spelling within the id length is readable', () => {
    expect(mayReadId(ann, dmConversation('ann', 'bob'), 64)).toBe(true);
    expect(mayReadId(ann, 'dm:bob:ann', 64)).toBe(false); // unsorted pair: not canonical
    expect(mayReadId(ann, 'room:lobby', 64)).toBe(true);
    expect(mayReadId(ann, 'room:team-abc', 5)).toBe(false); // room id longer than the limit
    expect(mayReadId('dev', 'nonsense', 64)).toBe(false);
  });
});
