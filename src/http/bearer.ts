/**
 * `Authorization: Bearer <credential>`: reading it, and comparing a presented credential with a
 * configured one in constant time (both sides hashed first, so neither the lengths nor a common
 * prefix shows in the timing). Shared by the node's access rules, the worker registration token
 * and the edge's admin endpoints.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The bearer token of an `Authorization` header, if any. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** A configured secret, hashed once, to compare presented credentials against. */
export class SecretMatcher {
  readonly #digest: Buffer;

  constructor(secret: string) {
    this.#digest = digest(secret);
  }

  matches(presented: string | undefined): boolean {
    return presented !== undefined && timingSafeEqual(digest(presented), this.#digest);
  }

  /** `matches` for a credential whose SHA-256 the caller already computed. */
  matchesDigest(presented: Buffer): boolean {
    return presented.length === this.#digest.length && timingSafeEqual(presented, this.#digest);
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
