/**
 * The topology's `origins:`: the browser origins that may use the deployment, the default of a
 * region node's WebSocket origin check (`--origins`) and of the edge's CORS and WebSocket origin
 * check (`--cors`). Absent: any origin, as without the flags (docs/security.md says why).
 */

/**
 * Why an entry is not `*` or an origin as browsers send it (`https://app.example.com`,
 * `http://localhost:3000`: scheme, host and a port only when not the default); undefined when it
 * is one. An entry written otherwise (a trailing slash, a path, upper case) would never match.
 */
export function originEntryProblem(entry: string): string | undefined {
  if (entry === '*') return undefined;
  if (entry === 'null') return '"null" is the origin of sandboxed and file pages, which any site can produce: never allow it';
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return `${JSON.stringify(entry)} is not an origin: write scheme://host[:port], e.g. https://app.example.com`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${JSON.stringify(entry)} is not an http or https origin`;
  if (url.origin !== entry) return `${JSON.stringify(entry)} is not an origin as browsers send it: write ${JSON.stringify(url.origin)}`;
  return undefined;
}

/** The list a region node checks WebSocket upgrades against: undefined (any) when absent or `*`. */
export function nodeOrigins(origins: readonly string[] | undefined): readonly string[] | undefined {
  return origins === undefined || origins.includes('*') ? undefined : origins;
}

/**
 * The edge's CORS from the list: none when absent; `*` answers any origin without credentials
 * (never both); listed origins are echoed with credentials (the affinity cookie).
 */
export function edgeCors(origins: readonly string[] | undefined): { origins: readonly string[] | '*'; credentials: boolean } | undefined {
  if (origins === undefined) return undefined;
  return origins.includes('*') ? { origins: '*', credentials: false } : { origins, credentials: true };
}
