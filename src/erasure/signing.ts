/**
 * The key a region node signs erasure confirmations and receipts with: Ed25519 (JWS `EdDSA`).
 * Kept in the region's data directory (`<data>/<region>/erasure-key.jwk`, mode 0600) when it has
 * one, so every run of the region signs with the same key; without one (`:memory:`) each node
 * run makes its own. The public half is published in the region's erasure bucket (`k.<kid>`) so
 * any node can serve every region's keys as a JWKS. `kid` is the key's RFC 7638 thumbprint.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';

export interface SigningKey {
  readonly kid: string;
  readonly region: string;
  readonly privateKey: CryptoKey | Uint8Array;
  /** The public JWK with `kid`, `alg`, `use` and the region. */
  readonly publicJwk: JWK & { kid: string; region: string };
}

export const KEY_FILE = 'erasure-key.jwk';

async function fromPrivateJwk(jwk: JWK, region: string): Promise<SigningKey> {
  const kid = await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! });
  const privateKey = await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
  return { kid, region, privateKey, publicJwk: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, kid, alg: 'EdDSA', use: 'sig', region } };
}

/** Load the region's key from `dataDir`, or make one (and keep it there when there is a dir). */
export async function loadSigningKey(region: string, dataDir: string | undefined): Promise<SigningKey> {
  const file = dataDir === undefined || dataDir === ':memory:' ? undefined : join(dataDir, region, KEY_FILE);
  if (file !== undefined && existsSync(file)) return fromPrivateJwk(JSON.parse(readFileSync(file, 'utf8')) as JWK, region);
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  if (file !== undefined) {
    mkdirSync(join(dataDir!, region), { recursive: true });
    // Written aside then renamed: two nodes of a region starting at once keep one whole key.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(jwk), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    if (existsSync(file)) return fromPrivateJwk(JSON.parse(readFileSync(file, 'utf8')) as JWK, region);
    renameSync(tmp, file);
  }
  return fromPrivateJwk(jwk, region);
}
