// Small pieces of the node on their own: room capability patterns, the token bucket, option checks.
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedNetwork } from '../../src/bus/embedded/mod.js';
import { isMeridianError } from '../../src/errors/mod.js';
import { roomMatcher } from '../../src/node/mod.js';
import { resolveNodeOptions } from '../../src/node/options.js';
import type { RegionNodeOptions } from '../../src/node/options.js';
import { TokenBucket } from '../../src/node/rate-limit.js';
import { oneRegion } from './fixtures.js';

describe('room capability patterns', () => {
  it('match literally, with * as any run of characters', () => {
    const m = roomMatcher(['team-*', 'lobby', 'a.b*c']);
    expect(['team-1', 'team-', 'lobby', 'a.bxyzc', 'a.bc'].every(m)).toBe(true);
    expect(['team', 'lobby2', 'xteam-1', 'aXbc', 'a.bcd'].some(m)).toBe(false);
    expect(roomMatcher(['*'])('anything at all')).toBe(true);
    expect(roomMatcher([])('lobby')).toBe(false);
    // Regex characters in patterns are plain characters.
    expect(roomMatcher(['(a|b)+'])('(a|b)+')).toBe(true);
    expect(roomMatcher(['(a|b)+'])('aa')).toBe(false);
  });
});

describe('token bucket', () => {
  it('grants a burst, then refills at the rate, and says how long to wait', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0]);
    expect(b.take(0)).toBe(100);
    expect(b.take(50)).toBe(50);
    expect(b.take(100)).toBe(0);
    expect(b.take(10_000)).toBe(0);
  });
});

describe('node options', () => {
  const network = new EmbeddedNetwork([{ name: 'solo', lat: 50, lon: 8 }]);
  const bus = network.connect('solo');
  afterAll(async () => {
    await bus.close();
    await network.close();
  });
  const base = { topology: oneRegion(), region: 'solo', bus } as unknown as RegionNodeOptions;
  const bad = (o: Partial<RegionNodeOptions>): string => {
    try {
      resolveNodeOptions({ ...base, ...o }, 'x');
      return 'accepted';
    } catch (err) {
      return isMeridianError(err) ? err.code : String(err);
    }
  };
  it('refuse what cannot work with NODE_INVALID_CONFIG', () => {
    expect(bad({ region: 'mars' })).toBe('NODE_INVALID_CONFIG');
    expect(bad({ auth: { hs256Secret: 'short' } })).toBe('NODE_INVALID_CONFIG');
    expect(bad({ port: 70000 })).toBe('NODE_INVALID_CONFIG');
    expect(bad({ outbound: { softBytes: 10, hardBytes: 5 } })).toBe('NODE_INVALID_CONFIG');
    expect(bad({ limits: { maxReplay: 0 } })).toBe('NODE_INVALID_CONFIG');
    expect(bad({})).toBe('accepted');
    expect(resolveNodeOptions(base, 'abc').node).toBe('solo-abc');
  });
});
