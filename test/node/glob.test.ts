// Room patterns (`*` any run) matched without a backtracking regular expression: the same answers
// as the regex reference on random small inputs, and adversarial patterns like `*a*a*a*a*b`
// against long rooms are answered within pattern × room steps (the regex engine took seconds per
// join on those). Steps are counted by reading the strings through a proxy, so the bound is exact
// and does not depend on the machine; the one clock check is a blow-up detector, 100× generous.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globMatch, roomMatcher } from '../../src/node/auth.js';

const reference = (pattern: string, text: string): boolean => new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')}$`).test(text);

/** `s` as a String object whose character reads (`s[i]`) are counted in `reads.n`. */
function counted(s: string, reads: { n: number }): string {
  return new Proxy(new String(s), {
    get(target, key) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads.n++;
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as string;
}

describe('room pattern matching', () => {
  it('agrees with the regular-expression reference (seeded)', () => {
    const small = fc.string({ unit: fc.constantFrom('a', 'b', '*', '.'), maxLength: 10 });
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '.'), maxLength: 12 });
    fc.assert(
      fc.property(small, text, (p, t) => globMatch(p, t) === reference(p, t)),
      { seed: 20261204, numRuns: 5000 },
    );
  });

  it('reads at most twice pattern × room characters on adversarial patterns (the limits: 256 characters each)', () => {
    const room = 'a'.repeat(256);
    const patterns = ['*a*a*a*a*b', '*a*a*a*a*a*a*a*a*a*a*a*a*b', `${'*a'.repeat(127)}b`, `*${'a'.repeat(254)}b`, `*${'a'.repeat(100)}*${'a'.repeat(100)}b`, '*ab*ab*ab*ab*b'];
    for (const p of patterns) {
      const reads = { n: 0 };
      expect(globMatch(counted(p, reads), counted(room, reads))).toBe(false);
      expect(reads.n, p).toBeGreaterThan(0);
      expect(reads.n, p).toBeLessThanOrEqual(2 * (p.length + 1) * (room.length + 1));
    }
  });

  it('answers 200 adversarial matches on long rooms with no blow-up', () => {
    const room = 'a'.repeat(256);
    const m = roomMatcher(['*a*a*a*a*b', '*a*a*a*a*a*a*a*a*a*a*a*a*b']);
    const started = performance.now();
    for (let i = 0; i < 200; i++) expect(m(room)).toBe(false);
    // A few milliseconds on any machine; the backtracking regex took 2.4 s for one of these.
    expect(performance.now() - started).toBeLessThan(2000);
    expect(m(`${room}b`)).toBe(true);
    expect(roomMatcher(['team-*', 'lobby'])('team-x')).toBe(true);
    expect(roomMatcher(['team-*', 'lobby'])('lobby2')).toBe(false);
  });
});
