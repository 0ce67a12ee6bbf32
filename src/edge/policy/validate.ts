/**
 * Checks for what a client sends the edge (country, coordinates, measured RTTs). Each failure is a
 * `MeridianError` with a stable `EDGE_*` code, so the edge endpoint can answer 400 with the code
 * and callers can match on it. Values are normalised on the way (country upper-cased, numeric
 * strings from query parameters parsed), so the policy only ever sees clean input.
 */
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Topology } from '../../topology/mod.js';
import { isKnownCountry } from '../countries.js';
import type { RttSource, SteeringClient } from './types.js';

/** The client after validation: country upper case, coordinates both present or both absent. */
export interface NormalizedClient {
  readonly country?: string;
  readonly location?: { readonly lat: number; readonly lon: number };
}

/** Above this a "measurement" is not an RTT but a timeout or garbage. */
export const MAX_RTT_MS = 60_000;

const NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && NUMERIC.test(value.trim())) return Number(value.trim());
  return undefined;
}

/** An assigned ISO 3166-1 alpha-2 code, upper-cased: `de` → `DE`; `ZZ` or `D3` are refused. */
export function normalizeCountry(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z]{2}$/.test(value.trim())) {
    throw new MeridianError(ErrorCode.EdgeInvalidCountry, 'country must be an ISO 3166-1 alpha-2 code such as DE', {
      details: { country: typeof value === 'string' ? value.slice(0, 16) : typeof value },
    });
  }
  const code = value.trim().toUpperCase();
  if (!isKnownCountry(code)) {
    throw new MeridianError(ErrorCode.EdgeInvalidCountry, `unknown country code "${code}": not an assigned ISO 3166-1 alpha-2 code`, { details: { country: code } });
  }
  return code;
}

/** Latitude in [-90, 90] and longitude in [-180, 180]; numbers or numeric strings. */
export function validateLocation(lat: unknown, lon: unknown): { lat: number; lon: number } {
  const la = toNumber(lat);
  const lo = toNumber(lon);
  const bad = (message: string): MeridianError =>
    new MeridianError(ErrorCode.EdgeInvalidLocation, message, { details: { lat: String(lat).slice(0, 32), lon: String(lon).slice(0, 32) } });
  if (la === undefined || lo === undefined || !Number.isFinite(la) || !Number.isFinite(lo)) throw bad('lat and lon must be finite numbers');
  if (la < -90 || la > 90) throw bad('lat must be between -90 and 90');
  if (lo < -180 || lo > 180) throw bad('lon must be between -180 and 180');
  return { lat: la, lon: lo };
}

/** Validate a whole client; a lone lat or lon is refused rather than silently dropped. */
export function normalizeClient(client: SteeringClient): NormalizedClient {
  const hasLat = client.lat !== undefined;
  const hasLon = client.lon !== undefined;
  if (hasLat !== hasLon) {
    throw new MeridianError(ErrorCode.EdgeInvalidLocation, 'lat and lon must be given together', { details: { lat: client.lat, lon: client.lon } });
  }
  return {
    ...(client.country === undefined ? {} : { country: normalizeCountry(client.country) }),
    ...(hasLat ? { location: validateLocation(client.lat, client.lon) } : {}),
  };
}

/**
 * A client's RTT report `{ "<region>": ms, … }`: known regions only, finite, 0..MAX_RTT_MS.
 * Returned as a map so it can be handed to `decide` via `rttFromMap`.
 */
export function parseRttReport(topology: Topology, input: unknown): ReadonlyMap<string, number> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new MeridianError(ErrorCode.EdgeInvalidRtt, 'rtt must be an object of region name to milliseconds');
  }
  const known = new Set(topology.regions.map((r) => r.name));
  const out = new Map<string, number>();
  for (const [region, raw] of Object.entries(input)) {
    if (!known.has(region)) throw new MeridianError(ErrorCode.EdgeInvalidRtt, `rtt names unknown region ${region.slice(0, 64)}`, { details: { region: region.slice(0, 64) } });
    const ms = toNumber(raw);
    if (ms === undefined || !Number.isFinite(ms) || ms < 0 || ms > MAX_RTT_MS) {
      throw new MeridianError(ErrorCode.EdgeInvalidRtt, `rtt for ${region} must be between 0 and ${MAX_RTT_MS} ms`, { details: { region } });
    }
    out.set(region, ms);
  }
  return out;
}

export function rttFromMap(map: ReadonlyMap<string, number>): RttSource {
  return (region) => map.get(region);
}
