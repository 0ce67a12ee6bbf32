// GeoIP from the GeoLite2 City data shipped in the npm package: offline reads of local files only.
// Expected countries are for address blocks whose holders are long-established in one country
// (Google, heise, SAKURA internet, SingTel); coordinates are checked loosely against that country
// because the data moves between releases.
import { describe, it, expect, beforeAll } from 'vitest';
import { openGeoIp, packagedDatabasePaths } from '../../src/edge/geoip.js';
import type { GeoIp } from '../../src/edge/geoip.js';
import { ErrorCode, isMeridianError } from '../../src/errors/mod.js';
import { decide } from '../../src/edge/policy/mod.js';
import { states, three } from './fixtures.js';

let geo: GeoIp;
beforeAll(async () => {
  geo = await openGeoIp();
});

describe('edge - GeoIP', () => {
  it('finds both packaged databases', () => {
    const p = packagedDatabasePaths();
    expect(p.ipv4).toMatch(/geolite2-city-ipv4\.mmdb$/);
    expect(p.ipv6).toMatch(/geolite2-city-ipv6\.mmdb$/);
    expect(geo.builtAt.getUTCFullYear()).toBeGreaterThanOrEqual(2024);
  });

  it.each([
    ['8.8.8.8', 'US', [24, 50], [-125, -66]],
    ['193.99.144.80', 'DE', [47, 55.1], [5.8, 15.1]],
    ['133.242.0.1', 'JP', [24, 46], [122, 146]],
    ['203.116.1.1', 'SG', [1.1, 1.5], [103.6, 104.1]],
    ['2001:4860:4860::8888', 'US', [24, 50], [-125, -66]],
    ['::ffff:193.99.144.80', 'DE', [47, 55.1], [5.8, 15.1]],
  ] as const)('%s is in %s', (ip, country, [latMin, latMax], [lonMin, lonMax]) => {
    const loc = geo.lookup(ip);
    expect(loc?.country).toBe(country);
    expect(loc?.lat).toBeGreaterThanOrEqual(latMin);
    expect(loc?.lat).toBeLessThanOrEqual(latMax);
    expect(loc?.lon).toBeGreaterThanOrEqual(lonMin);
    expect(loc?.lon).toBeLessThanOrEqual(lonMax);
  });

  it.each([['10.1.2.3'], ['192.168.0.1'], ['172.16.5.4'], ['127.0.0.1'], ['100.64.0.1'], ['169.254.1.1'], ['::1'], ['fe80::1%eth0'], ['fd12::1'], ['::ffff:127.0.0.1'], ['2001:db8::1']])(
    'non-public %s has no location',
    (ip) => expect(geo.lookup(ip)).toBeNull(),
  );

  it.each([['8.8.8'], ['256.1.1.1'], ['hello'], [''], ['1.2.3.4:80'], ['2001:::1']])('malformed %j is refused with EDGE_INVALID_IP', (ip) => {
    let caught: unknown;
    try {
      geo.lookup(ip);
    } catch (err) {
      caught = err;
    }
    expect(isMeridianError(caught, ErrorCode.EdgeInvalidIp)).toBe(true);
  });

  it('feeds steering: a SingTel address is steered to ap-southeast, a heise address to eu-west under GDPR', () => {
    const sg = geo.lookup('203.116.1.1');
    const de = geo.lookup('193.99.144.80');
    expect(decide(three, states(three), sg ?? {}).region).toBe('ap-southeast');
    const d = decide(three, states(three), de ?? {});
    expect([d.region, d.notes.includes('residency:gdpr')]).toEqual(['eu-west', true]);
  });

  it('a missing database file is a typed error', async () => {
    await expect(openGeoIp({ ipv4Path: '/nonexistent/a.mmdb', ipv6Path: '/nonexistent/b.mmdb' })).rejects.toMatchObject({ code: ErrorCode.EdgeGeoIpUnavailable });
  });
});
