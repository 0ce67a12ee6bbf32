/**
 * The haproxy edge of `meridian plan`, under `haproxy/`: `haproxy.cfg` (config.ts: steering,
 * health checks, caps, affinity, WebSocket timeouts), `countries.map` (country → candidate
 * regions), `trusted-proxies.lst` (who may set the country header), `geoip-country.map` (CIDR →
 * country, empty until built by `geoip-from-geolite2.sh`) and a README. Install the directory as
 * /etc/haproxy/meridian and run `haproxy -f /etc/haproxy/meridian/haproxy.cfg`.
 */
import type { Generator, PlanContext, PlannedFile } from '../types.js';
import { countriesMap, HAPROXY_DIR, haproxyConfig } from './config.js';
import type { HaproxyOptions } from './config.js';
import { GEOIP_MAP, GEOIP_SCRIPT, haproxyReadme, TRUSTED_PROXIES } from './files.js';

export { haproxyConfig, countriesMap, regionNodeUrls, regionServers, HAPROXY_DIR } from './config.js';
export type { HaproxyOptions } from './config.js';
export { candidates, steeringPools } from './steering.js';

/** The files, with the config naming its map files in `opts.mapDir` (tests point it at a temp dir). */
export function renderHaproxy(ctx: PlanContext, opts: HaproxyOptions = {}): PlannedFile[] {
  const mapDir = opts.mapDir ?? HAPROXY_DIR;
  return [
    { path: 'haproxy/haproxy.cfg', content: haproxyConfig(ctx, { ...opts, mapDir }), about: `haproxy edge host: ${mapDir}/haproxy.cfg (steering, /ready checks, caps, affinity)` },
    { path: 'haproxy/countries.map', content: countriesMap(ctx), about: `haproxy edge host: ${mapDir}/countries.map (country → regions to try)` },
    { path: 'haproxy/trusted-proxies.lst', content: TRUSTED_PROXIES, about: 'haproxy edge host: who may set the country header (add your CDN)' },
    { path: 'haproxy/geoip-country.map', content: GEOIP_MAP, about: 'haproxy edge host: CIDR → country, empty until built by geoip-from-geolite2.sh' },
    { path: 'haproxy/geoip-from-geolite2.sh', content: GEOIP_SCRIPT, about: 'builds geoip-country.map from the GeoLite2 Country CSV' },
    { path: 'haproxy/README.md', content: haproxyReadme(ctx), about: 'the haproxy edge: pools, caps, what it does not do' },
  ];
}

export const planHaproxy: Generator = (ctx) => renderHaproxy(ctx);
