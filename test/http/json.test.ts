// JSON bounded before anything recurses over it: depth measured on the text in one pass.
import { describe, expect, it } from 'vitest';
import { jsonTextDepth, parseJsonBounded } from '../../src/http/json.js';

describe('bounded JSON', () => {
  it('measures nesting outside strings, honouring escapes', () => {
    expect(jsonTextDepth('1')).toBe(0);
    expect(jsonTextDepth('{"a":[1,{"b":2}]}')).toBe(3);
    expect(jsonTextDepth('{"a":"[[[{{{"}')).toBe(1);
    expect(jsonTextDepth('{"a":"\\"[[["}')).toBe(1);
    expect(jsonTextDepth('["\\\\",[[]]]')).toBe(3);
  });

  it('refuses deep input without blowing the stack, and parses the rest', () => {
    const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    const r = parseJsonBounded(deep, 32);
    expect(r).toMatchObject({ ok: false, reason: 'depth' });
    expect(parseJsonBounded('{"a":[1,2]}', 2)).toEqual({ ok: true, value: { a: [1, 2] } });
    expect(parseJsonBounded('{"a":[1,2]}', 1)).toMatchObject({ ok: false, reason: 'depth' });
    expect(parseJsonBounded('{"a":', 8)).toMatchObject({ ok: false, reason: 'syntax' });
  });
});
