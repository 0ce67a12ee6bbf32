import { describe, it, expect } from 'vitest';
import { token, untoken, subjects, isValidSubject, subjectMatches, assertPublishSubject, assertKvKey, assertHeaders, assertQueueName } from '../../src/bus/subjects.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    return isMeridianError(err) ? err.code : 'untyped';
  }
  return undefined;
}

describe('subject scheme', () => {
  it('keeps safe ids readable and turns any other id into exactly one token', () => {
    expect(subjects.user('alice_01')).toBe('mrd.user.alice_01');
    for (const id of ['a.b', 'x > y', '*', 'émilie', 'room with spaces', '~tilde']) {
      const t = token(id);
      expect(t).toMatch(/^[A-Za-z0-9_~-]+$/);
      expect(untoken(t)).toBe(id);
      expect(subjects.room(id).split('.')).toHaveLength(3);
    }
  });

  it('refuses an empty id', () => {
    expect(codeOf(() => token(''))).toBe(ErrorCode.BusInvalidSubject);
  });

  it('validates subjects: wildcards only as whole tokens and only where allowed', () => {
    expect(isValidSubject('a.b.c', false)).toBe(true);
    expect(isValidSubject('a.*.c', false)).toBe(false);
    expect(isValidSubject('a.*.c', true)).toBe(true);
    expect(isValidSubject('a.>', true)).toBe(true);
    expect(isValidSubject('a.>.c', true)).toBe(false);
    expect(isValidSubject('a.b*', true)).toBe(false);
    for (const bad of ['', 'a..b', '.a', 'a.', 'a b', 'a\tb']) expect(isValidSubject(bad, true)).toBe(false);
    expect(codeOf(() => assertPublishSubject('a.*'))).toBe(ErrorCode.BusInvalidSubject);
  });

  it('matches patterns like NATS does', () => {
    expect(subjectMatches('a.*', 'a.b')).toBe(true);
    expect(subjectMatches('a.*', 'a.b.c')).toBe(false);
    expect(subjectMatches('a.>', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('*.b', 'a.b')).toBe(true);
    expect(subjectMatches('a.b', 'a.c')).toBe(false);
  });

  it('validates KV keys, headers and queue names with typed errors', () => {
    expect(codeOf(() => assertKvKey('user.alice/1=x'))).toBeUndefined();
    expect(codeOf(() => assertKvKey('has space'))).toBe(ErrorCode.KvInvalidKey);
    expect(codeOf(() => assertKvKey('a.*', true))).toBeUndefined();
    expect(codeOf(() => assertKvKey('a.*'))).toBe(ErrorCode.KvInvalidKey);
    expect(codeOf(() => assertHeaders({ 'X-Ok': 'v' }))).toBeUndefined();
    expect(codeOf(() => assertHeaders({ 'Bad Name': 'v' }))).toBe(ErrorCode.BusInvalidHeader);
    expect(codeOf(() => assertHeaders({ X: 'a\r\nb' }))).toBe(ErrorCode.BusInvalidHeader);
    expect(codeOf(() => assertQueueName('svc'))).toBeUndefined();
    expect(codeOf(() => assertQueueName('a b'))).toBe(ErrorCode.BusInvalidQueue);
  });
});
