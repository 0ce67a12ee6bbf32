// Client input checks: what the edge will answer 400 to, with which stable code.
import { describe, it, expect } from 'vitest';
import { normalizeClient, normalizeCountry, parseRttReport, validateLocation, decide } from '../../src/edge/policy/mod.js';
import { ErrorCode, MeridianError } from '../../src/errors/mod.js';
import { states, three } from './fixtures.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof MeridianError ? err.code : `not a MeridianError: ${String(err)}`;
  }
  return undefined;
}

describe('edge steering - input validation', () => {
  it.each([
    ['de', 'DE'],
    ['US', 'US'],
    [' sg ', 'SG'],
  ])('country %j becomes %j', (input, out) => expect(normalizeCountry(input)).toBe(out));

  it.each([['D'], ['DEU'], ['1A'], [''], ['é1'], [42], [null], ['ZZ'], ['xx'], ['EU']])('country %j is refused with EDGE_INVALID_COUNTRY', (input) => {
    expect(codeOf(() => normalizeCountry(input))).toBe(ErrorCode.EdgeInvalidCountry);
  });

  it.each([
    [0, 0, { lat: 0, lon: 0 }],
    [-90, 180, { lat: -90, lon: 180 }],
    ['1.29', '103.85', { lat: 1.29, lon: 103.85 }],
    [' -33.9 ', '18.4', { lat: -33.9, lon: 18.4 }],
  ])('location (%j, %j) is accepted', (lat, lon, out) => expect(validateLocation(lat, lon)).toEqual(out));

  it.each([
    [91, 0],
    [-90.01, 0],
    [0, 180.5],
    [0, -181],
    [NaN, 0],
    [Infinity, 0],
    ['north', 0],
    ['1e3', 0],
    ['0x10', 0],
    [null, 0],
  ])('location (%j, %j) is refused with EDGE_INVALID_LOCATION', (lat, lon) => {
    expect(codeOf(() => validateLocation(lat, lon))).toBe(ErrorCode.EdgeInvalidLocation);
  });

  it('refuses a latitude without a longitude instead of dropping it', () => {
    expect(codeOf(() => normalizeClient({ lat: 10 }))).toBe(ErrorCode.EdgeInvalidLocation);
    expect(codeOf(() => decide(three, states(three), { lon: 10 }))).toBe(ErrorCode.EdgeInvalidLocation);
  });

  it('decide validates the client and upper-cases its country', () => {
    expect(codeOf(() => decide(three, states(three), { country: 'USA' }))).toBe(ErrorCode.EdgeInvalidCountry);
    expect(decide(three, states(three), { country: 'fr' }).notes).toContain('residency:gdpr');
  });

  it('parses an RTT report and refuses unknown regions and impossible values', () => {
    expect([...parseRttReport(three, { 'us-east': 12, 'eu-west': '80.5' })]).toEqual([['us-east', 12], ['eu-west', 80.5]]);
    for (const bad of [{ mars: 1 }, { 'us-east': -1 }, { 'us-east': 60_001 }, { 'us-east': 'fast' }, [], null, 'x']) {
      expect(codeOf(() => parseRttReport(three, bad))).toBe(ErrorCode.EdgeInvalidRtt);
    }
  });

  it('refuses monitor states with impossible numbers as a bug, not a client error', () => {
    expect(codeOf(() => decide(three, states(three, { 'us-east': { healthy: true, connections: -1, rps: 0 } }), {}))).toBe(ErrorCode.InvalidArgument);
    expect(codeOf(() => decide(three, states(three, { 'us-east': { healthy: true, connections: 0, rps: NaN } }), {}))).toBe(ErrorCode.InvalidArgument);
  });
});
