// Topologies and tokens for node tests.
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { parseTopology } from '../../src/topology/mod.js';
import type { Topology } from '../../src/topology/mod.js';

/** One region, for tests about a single connection. */
export function oneRegion(): Topology {
  return parseTopology('regions:\n  - name: solo\n    location: { lat: 50, lon: 8 }\n    jurisdiction: EU\n', '<one region>');
}

/** Three regions with a short simulated WAN (10 ms one way), so cross-region tests run fast. */
export function threeRegions(oneWayMs = 10): Topology {
  return parseTopology(
    `regions:
  - name: us-east
    location: { lat: 39.04, lon: -77.49 }
    jurisdiction: US
  - name: eu-west
    location: { lat: 53.35, lon: -6.26 }
    jurisdiction: EU
  - name: ap-southeast
    location: { lat: 1.35, lon: 103.82 }
    jurisdiction: SG
wan:
  links:
    - { between: [us-east, eu-west], oneWayMs: ${oneWayMs} }
    - { between: [us-east, ap-southeast], oneWayMs: ${oneWayMs} }
    - { between: [eu-west, ap-southeast], oneWayMs: ${oneWayMs} }
`,
    '<three regions>',
  );
}

export const SECRET = 'test-secret-of-at-least-16-chars';

export async function hsToken(claims: Record<string, unknown>, opts: { expSec?: number; secret?: string } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' });
  if (opts.expSec !== 0) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSec ?? 3600));
  return jwt.sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

export const ed = (() => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
})();

export async function edToken(claims: Record<string, unknown>, expSec = 3600): Promise<string> {
  const key = await importPKCS8(ed.privatePem, 'EdDSA');
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).setExpirationTime(Math.floor(Date.now() / 1000) + expSec).sign(key);
}
