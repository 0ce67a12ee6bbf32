/**
 * Conversation ids: order-independent, injective (also for ids containing ':' and '%'), parsed
 * back only from their canonical spelling, and within the message log's 256 characters.
 */
import { describe, expect, it } from 'vitest';
import { MAX_CONVERSATION_LENGTH, checkId, dmConversation, dmPeer, isConversation, parseConversation, roomConversation, tryDmConversation } from '../../src/protocol/mod.js';
import { rng } from './prng.js';

describe('direct conversation ids', () => {
  it('are the same whichever order the users are given in', () => {
    expect(dmConversation('alice', 'bob')).toBe('dm:alice:bob');
    expect(dmConversation('bob', 'alice')).toBe('dm:alice:bob');
  });

  it('escape ":" and "%" so a pair is never confused with another', () => {
    expect(dmConversation('a:b', 'c')).toBe('dm:a%3Ab:c');
    expect(dmConversation('a', 'b:c')).toBe('dm:a:b%3Ac');
    expect(dmConversation('a%3Ab', 'c')).toBe('dm:a%253Ab:c');
    expect(dmConversation('a:b', 'c')).not.toBe(dmConversation('a', 'b:c'));
  });

  it('parse back to the sorted pair, and only from the canonical spelling', () => {
    expect(parseConversation('dm:a%3Ab:c')).toEqual({ kind: 'dm', users: ['a:b', 'c'] });
    expect(parseConversation('dm:bob:alice')).toBeUndefined(); // unsorted
    expect(parseConversation('dm:a%3ab:c')).toBeUndefined(); // lower-case escape
    expect(parseConversation('dm:%61:b')).toBeUndefined(); // needless escape
    expect(parseConversation('dm:a:b:c')).toBeUndefined();
    expect(parseConversation('dm::b')).toBeUndefined();
    expect(parseConversation('dm:a')).toBeUndefined();
    expect(parseConversation('chan:a')).toBeUndefined();
    expect(parseConversation(42)).toBeUndefined();
  });

  it('are injective and round-trip over random pairs full of separators and escapes', () => {
    const r = rng(7);
    const alphabet = ['a', 'b', ':', '%', '3', 'A', '2', '5', 'é', '😀', ' '];
    const seen = new Map<string, string>();
    for (let i = 0; i < 20_000; i++) {
      const id = (): string => {
        let s = '';
        const n = 1 + r.int(6);
        for (let k = 0; k < n; k++) s += r.pick(alphabet);
        return s.trim() === s ? s : `x${s.trim()}x`;
      };
      const a = id();
      const b = id();
      const conv = dmConversation(a, b);
      expect(dmConversation(b, a)).toBe(conv);
      const pair = JSON.stringify([a, b].sort());
      const before = seen.get(conv);
      if (before !== undefined) expect(before).toBe(pair);
      seen.set(conv, pair);
      const parsed = parseConversation(conv);
      expect(parsed?.kind === 'dm' ? JSON.stringify([...parsed.users]) : undefined).toBe(pair);
    }
    expect(seen.size).toBeGreaterThan(5_000);
  });

  it('fit the log limit for plain ids of the maximum length, and refuse escaped ones that would not', () => {
    const a = 'a'.repeat(120);
    const b = 'b'.repeat(120);
    expect(dmConversation(a, b).length).toBeLessThanOrEqual(MAX_CONVERSATION_LENGTH);
    const colons = ':'.repeat(120);
    expect(tryDmConversation(colons, b)).toMatchObject({ ok: false });
    expect(() => dmConversation(colons, b)).toThrow(RangeError);
  });

  it('refuse invalid user ids', () => {
    expect(() => dmConversation('', 'b')).toThrow(RangeError);
    expect(() => dmConversation('a'.repeat(121), 'b')).toThrow(RangeError);
    for (const bad of ['a\u0000', 'a\n', ' a', 'a ', '\ud800', 'a\udc00b']) expect(checkId(bad).ok).toBe(false);
    expect(checkId('user@example.com').ok).toBe(true);
    expect(checkId('auth0|5f7c8ec7').ok).toBe(true);
  });

  it('name the peer of a user', () => {
    const c = parseConversation(dmConversation('alice', 'bob'));
    expect(c && dmPeer(c, 'alice')).toBe('bob');
    expect(c && dmPeer(c, 'bob')).toBe('alice');
    expect(c && dmPeer(c, 'carol')).toBeUndefined();
  });
});

describe('room conversation ids', () => {
  it('prefix the room id as is, colons included', () => {
    expect(roomConversation('team-1')).toBe('room:team-1');
    expect(parseConversation('room:a:b')).toEqual({ kind: 'room', room: 'a:b' });
    expect(roomConversation('a:b')).toBe('room:a:b');
  });

  it('never collide with direct conversation ids', () => {
    expect(isConversation('room:dm:a:b')).toBe(true);
    expect(parseConversation('room:dm:a:b')).toEqual({ kind: 'room', room: 'dm:a:b' });
  });

  it('refuse invalid room ids', () => {
    expect(() => roomConversation('')).toThrow(RangeError);
    expect(() => roomConversation('r'.repeat(121))).toThrow(RangeError);
    expect(parseConversation('room:')).toBeUndefined();
    expect(parseConversation('room: x')).toBeUndefined();
  });
});
