/**
 * The API key itself: `mrd_<id>_<secret>`, where the id (16 hex digits) names the key in logs,
 * the audit trail and `meridian keys list`, and the secret (32 random bytes, base64url) is what
 * proves it. Only a SHA-256 digest of the whole key is ever stored; a presented key is hashed
 * and compared in constant time. SHA-256 (not a slow hash) is enough: the secret is 256 random
 * bits, not a password anyone could guess.
 */
import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A key as presented: `mrd_` + 16 hex digits + `_` + 43 base64url characters. */
export const KEY_PATTERN = /^mrd_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** A key id alone. */
export const ID_PATTERN = /^[0-9a-f]{16}$/;
/** How the digest is written in the keys file. */
export const HASH_PATTERN = /^sha256:([A-Za-z0-9_-]{43})$/;

export interface NewKey {
  readonly id: string;
  /** The whole key, shown once. */
  readonly key: string;
  /** `sha256:<base64url>`, what the keys file keeps. */
  readonly hash: string;
}

export function generateKey(): NewKey {
  const id = randomBytes(8).toString('hex');
  const key = `mrd_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, key, hash: hashKey(key) };
}

export function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('base64url')}`;
}

/** The id of a well-formed key, else undefined. */
export function keyId(token: string): string | undefined {
  return KEY_PATTERN.exec(token)?.[1];
}

// crypto.hash (Node ≥ 20.12) is one call, no Hash object, and with a string output about 5×
// cheaper than createHash (its Buffer output is not: ~1.1 µs); a node hashes each request's credential.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'base64url') => string }).hash;

/** SHA-256 of a string (UTF-8), base64url. */
export function sha256(s: string): string {
  return oneShot === undefined ? createHash('sha256').update(s).digest('base64url') : oneShot('sha256', s, 'base64url');
}

/**
 * Whether `token` hashes to `digest` (a stored hash's raw digest), in constant time. `presented`
 * is the token's SHA-256 (base64url, `sha256`) when the caller already has it: the node hashes a
 * request's credential once, for its rate limit and this check.
 */
export function keyMatches(token: string, digest: Buffer, presented: string = sha256(token)): boolean {
  const p = Buffer.from(presented, 'base64url');
  return p.length === digest.length && timingSafeEqual(p, digest);
}

/** The raw digest of a stored `sha256:…` hash. */
export function digestOf(hash: string): Buffer | undefined {
  const m = HASH_PATTERN.exec(hash);
  return m === null ? undefined : Buffer.from(m[1]!, 'base64url');
}
