/**
 * ISO 3166-1 alpha-2 countries the edge accepts, and where each one is (its centroid), from the
 * `world-countries` package (offline data, no download). The centroid stands in for a client that
 * gives only its country, so proximity still counts in steering (a client in JP with no rule for
 * JP is steered to the nearest region, not to the cheapest one). Loaded once, on first use.
 */
import { createRequire } from 'node:module';

interface CountryRow {
  readonly cca2: string;
  readonly latlng: readonly number[];
}

let table: ReadonlyMap<string, { lat: number; lon: number }> | undefined;

function load(): ReadonlyMap<string, { lat: number; lon: number }> {
  if (table) return table;
  const rows = createRequire(import.meta.url)('world-countries/countries.json') as readonly CountryRow[];
  const m = new Map<string, { lat: number; lon: number }>();
  for (const r of rows) {
    const [lat, lon] = r.latlng;
    if (/^[A-Z]{2}$/.test(r.cca2) && lat !== undefined && lon !== undefined) m.set(r.cca2, { lat, lon });
  }
  table = m;
  return m;
}

/** Is `code` (upper case) an assigned country code? */
export function isKnownCountry(code: string): boolean {
  return load().has(code);
}

/** The country's centroid, for clients that say only which country they are in. */
export function countryCentroid(code: string): { lat: number; lon: number } | undefined {
  return load().get(code);
}
