/** Finding `id` in frames too large or too broken to parse, without ever guessing. */
import { describe, expect, it } from 'vitest';
import { scanRef } from '../../src/protocol/mod.js';

describe('scanRef', () => {
  it('finds a top-level id before or after scalar fields', () => {
    expect(scanRef('{"id":"a1","type":"send"')).toBe('a1');
    expect(scanRef(' { "type" : "send" , "n": -1.5e3, "ok": true, "x": null, "id" : "a\\"2" ')).toBe('a"2');
  });

  it('stops at a nested value instead of guessing', () => {
    expect(scanRef('{"type":"send","to":{"id":"no"},"id":"a3"}')).toBeUndefined();
    expect(scanRef('{"body":["id"],"id":"a4"}')).toBeUndefined();
  });

  it('ignores non-string ids and non-objects', () => {
    expect(scanRef('{"id":5}')).toBeUndefined();
    expect(scanRef('["id","x"]')).toBeUndefined();
    expect(scanRef('')).toBeUndefined();
    expect(scanRef('{"id":"unterminated')).toBeUndefined();
  });

  it('looks only at the first kilobyte', () => {
    expect(scanRef(`{"pad":"${'p'.repeat(2000)}","id":"late"}`)).toBeUndefined();
  });
});
