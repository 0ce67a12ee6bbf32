/** The topology's `origins:`: entries are `*` or origins exactly as browsers send them. */
import { describe, expect, it } from 'vitest';
import { parseTopology, edgeCors, nodeOrigins } from '../../src/topology/mod.js';
import { problems } from './problems.js';

const REGION = 'regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\n';


describe('topology: origins', () => {
  it('accepts origins and "*", and leaves them out when absent', () => {
    expect(parseTopology(`${REGION}origins: [https://app.example.com, "http://localhost:3000"]\n`).origins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(parseTopology(`${REGION}origins: ["*"]\n`).origins).toEqual(['*']);
    expect(parseTopology(REGION).origins).toBeUndefined();
  });

  it('refuses entries no browser Origin could equal, "null", and "*" with others', () => {
    const ps = problems(`${REGION}origins: ["https://app.example.com/", "https://App.example.com", "https://a.example:443", "ftp://files.example", "app.example.com", "null"]\n`);
    expect(ps).toEqual([
      { path: 'origins[0]', message: '"https://app.example.com/" is not an origin as browsers send it: write "https://app.example.com"' },
      { path: 'origins[1]', message: '"https://App.example.com" is not an origin as browsers send it: write "https://app.example.com"' },
      { path: 'origins[2]', message: '"https://a.example:443" is not an origin as browsers send it: write "https://a.example"' },
      { path: 'origins[3]', message: '"ftp://files.example" is not an http or https origin' },
      { path: 'origins[4]', message: '"app.example.com" is not an origin: write scheme://host[:port], e.g. https://app.example.com' },
      { path: 'origins[5]', message: '"null" is the origin of sandboxed and file pages, which any site can produce: never allow it' },
    ]);
    expect(problems(`${REGION}origins: ["*", https://app.example.com]\n`)).toEqual([{ path: 'origins', message: '"*" (any origin) stands alone: remove the other entries or the "*"' }]);
  });

  it('maps to the node check and the edge CORS: "*" never with credentials', () => {
    expect(nodeOrigins(undefined)).toBeUndefined();
    expect(nodeOrigins(['*'])).toBeUndefined();
    expect(nodeOrigins(['https://a.example'])).toEqual(['https://a.example']);
    expect(edgeCors(undefined)).toBeUndefined();
    expect(edgeCors(['*'])).toEqual({ origins: '*', credentials: false });
    expect(edgeCors(['https://a.example'])).toEqual({ origins: ['https://a.example'], credentials: true });
    expect(edgeCors([])).toEqual({ origins: [], credentials: true });
  });
});
