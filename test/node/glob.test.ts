// Room patterns (`*` any run) matched without a backtracking regular expression: the same answers
// as the regex reference on random small inputs, and adversarial patterns like `*a*a*a*a*b`
// against long rooms are answered (the regex engine took seconds per join on those).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globMatch, roomMatcher } from '../../src/node/auth.js';

const reference = (pattern: string, text: string): boolean => new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')}$`).test(text);

describe('room pattern matching', () => {
  it('agrees with the regular-expression reference (seeded)', () => {
    const small = fc.string({ unit: fc.constantFrom('a', 'b', '*', '.'), maxLength: 10 });
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '.'), maxLength: 12 });
    fc.assert(
      fc.property(small, text, (p, t) => globMatch(p, t) === reference(p, t)),
      { seed: 20261204, numRuns: 5000 },
    );
  });

  it('answers adversarial patterns on long rooms', () => {
    const room = 'a'.repeat(256);
    const m = roomMatcher(['*a*a*a*a*b', '*a*a*a*a*a*a*a*a*a*a*a*a*b']);
    for (let i = 0; i < 200; i++) expect(m(room)).toBe(false);
    expect(m(`${room}b`)).toBe(true);
    expect(roomMatcher(['team-*', 'lobby'])('team-x')).toBe(true);
    expect(roomMatcher(['team-*', 'lobby'])('lobby2')).toBe(false);
  });
});
