/**
 * Who a connection is: JWT verification (HS256 with a shared secret, EdDSA with an Ed25519
 * public key, via `jose`) and room capability patterns. A token needs `sub` (a valid user id) and
 * `exp`; `rooms` lists patterns where `*` matches any run of characters, and `services` /
 * `functions` list the services and functions the holder may call over HTTP (same patterns; none
 * without the claim). Dev mode (an explicit flag) admits `auth { user }` with every room
 * capability; without the flag nothing is anonymous.
 */
import { globMatch } from '../protocol/glob.js';
import { createSecretKey } from 'node:crypto';
import type { KeyObject, webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { checkId } from '../protocol/mod.js';
import type { AuthOptions } from './options.js';
import { Residency } from '../residency/mod.js';
import type { ResidencyTopology } from '../residency/mod.js';

/** What a user's credential says of their jurisdiction (docs/residency.md); checked against the residency rules. */
export interface ResidencyClaims {
  readonly jurisdiction?: string | undefined;
  /** ISO 3166-1 alpha-2 country of residence (where they connect from only steers, at the edge). */
  readonly country?: string | undefined;
}

export interface Identity {
  readonly user: string;
  /** Room capability patterns as granted (`["*"]` in dev mode). */
  readonly rooms: readonly string[];
  /** Token expiry, ms since the epoch; undefined for dev identities. */
  readonly expiresAt?: number;
  readonly canJoin: (room: string) => boolean;
  /** The `services` / `functions` claims: which of them this caller may call (HTTP). */
  readonly canCall: (kind: 'service' | 'function', name: string) => boolean;
  /** The `jurisdiction` claim (or dev auth frame field), checked at auth. */
  readonly jurisdiction?: string;
  /** The `country` claim (or dev auth frame field), checked at auth. */
  readonly country?: string;
}

const matcherCache = new Map<string, (room: string) => boolean>();
const ALL_ROOMS: readonly string[] = Object.freeze(['*']);
const anyRoom = (): boolean => true;
const noRoom = (): boolean => false;

/** A predicate for a list of room patterns (`*` matches any run, everything else literally). */
export function roomMatcher(patterns: readonly string[]): (room: string) => boolean {
  if (patterns.length === 0) return noRoom;
  if (patterns.includes('*')) return anyRoom;
  const key = JSON.stringify(patterns);
  const cached = matcherCache.get(key);
  if (cached) return cached;
  const exact = new Set(patterns.filter((p) => !p.includes('*')));
  const wild = patterns.filter((p) => p.includes('*'));
  const fn = (room: string): boolean => exact.has(room) || wild.some((p) => globMatch(p, room));
  // Tokens of one deployment share a handful of pattern lists; bound the cache anyway.
  if (matcherCache.size > 1000) matcherCache.clear();
  matcherCache.set(key, fn);
  return fn;
}

/** Re-exported for the node's callers; src/protocol/glob.ts has it. */
export { globMatch };

function failed(message: string): MeridianError {
  return new MeridianError(ErrorCode.AuthFailed, message);
}

export class Authenticator {
  readonly dev: boolean;
  readonly #secret: KeyObject | undefined;
  readonly #publicKey: Promise<KeyObject | CryptoKey> | undefined;
  readonly #opts: AuthOptions;
  readonly #residency: Residency;

  /** The residency rules claims are checked against (also where a strict user may be served). */
  get residency(): Residency {
    return this.#residency;
  }

  /** `topology`'s residency rules decide which jurisdiction and country claims a user id may carry. */
  constructor(opts: AuthOptions, topology: ResidencyTopology = { regions: [] }) {
    this.#opts = opts;
    this.#residency = new Residency(topology);
    this.dev = opts.dev === true;
    this.#secret = opts.hs256Secret === undefined ? undefined : createSecretKey(Buffer.from(opts.hs256Secret, 'utf8'));
    if (opts.eddsaPublicKey !== undefined) {
      this.#publicKey = importSPKI(opts.eddsaPublicKey, 'EdDSA');
      // Surfaced by ready(); keep an unhandled rejection from crashing the process meanwhile.
      this.#publicKey.catch(() => undefined);
    }
  }

  /** Rejects with NODE_INVALID_CONFIG when the configured public key does not parse. */
  async ready(): Promise<void> {
    try {
      await this.#publicKey;
    } catch (cause) {
      throw new MeridianError(ErrorCode.NodeInvalidConfig, 'auth.eddsaPublicKey is not an Ed25519 public key in SPKI PEM form', { cause });
    }
  }

  /** True when any way of authenticating is configured. */
  get configured(): boolean {
    return this.dev || this.#secret !== undefined || this.#publicKey !== undefined;
  }

  /** Dev auth (`auth { user, jurisdiction?, country? }`): AUTH_RESIDENCY when the claims disagree with the rules. */
  devIdentity(user: string, claims: ResidencyClaims = {}): Identity {
    if (!this.dev) throw failed('anonymous (user) authentication needs the node\'s dev flag');
    codeClaim(claims.jurisdiction, 'jurisdiction', /^[A-Z]{2,8}$/);
    codeClaim(claims.country, 'country', /^[A-Z]{2}$/);
    this.#residency.checkClaims(user, claims);
    return { user, rooms: ALL_ROOMS, canJoin: anyRoom, canCall: anyRoom, ...presentClaims(claims) };
  }

  /** Verify a token: AUTH_FAILED for every bad token, AUTH_EXPIRED when it has expired. */
  async verify(token: string): Promise<Identity> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw failed('the token is not a JWT');
    }
    let key: KeyObject | CryptoKey | undefined;
    if (alg === 'HS256') key = this.#secret;
    else if (alg === 'EdDSA' || alg === 'Ed25519') key = await this.#publicKey?.catch(() => undefined);
    if (key === undefined) throw failed(`no key is configured for ${String(alg).slice(0, 16)} tokens`);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [alg as string],
        requiredClaims: ['exp', 'sub'],
        ...(this.#opts.audience === undefined ? {} : { audience: this.#opts.audience }),
        ...(this.#opts.issuer === undefined ? {} : { issuer: this.#opts.issuer }),
      }));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED') throw new MeridianError(ErrorCode.AuthExpired, 'the token has expired');
      throw failed(`the token was refused: ${(err as Error).message.slice(0, 120)}`);
    }
    const sub = payload.sub;
    const idCheck = checkId(sub);
    if (!idCheck.ok) throw failed(`sub ${idCheck.reason}`);
    const rooms = payload['rooms'] ?? [];
    if (!Array.isArray(rooms) || rooms.length > 256 || !rooms.every((r) => typeof r === 'string' && r.length > 0 && r.length <= 256)) {
      throw failed('rooms must be a list of at most 256 room patterns');
    }
    // The common grant is shared, not kept per connection.
    const patterns = rooms.length === 1 && rooms[0] === '*' ? ALL_ROOMS : (rooms as string[]);
    const services = nameClaim(payload['services'], 'services');
    const functions = nameClaim(payload['functions'], 'functions');
    const claims = { jurisdiction: codeClaim(payload['jurisdiction'], 'jurisdiction', /^[A-Z]{2,8}$/), country: codeClaim(payload['country'], 'country', /^[A-Z]{2}$/) };
    this.#residency.checkClaims(sub as string, claims);
    return {
      ...presentClaims(claims),
      user: sub as string,
      rooms: patterns,
      expiresAt: (payload.exp as number) * 1000,
      canJoin: roomMatcher(patterns),
      canCall: (kind, name) => (kind === 'service' ? services(name) : functions(name)),
    };
  }
}

/** A `jurisdiction` or `country` claim: absent, or an upper-case code. */
function codeClaim(v: unknown, claim: string, shape: RegExp): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !shape.test(v)) throw new MeridianError(ErrorCode.AuthResidency, `${claim} must be an upper-case code such as ${claim === 'country' ? 'DE' : 'EU'}`);
  return v;
}

function presentClaims(c: ResidencyClaims): { jurisdiction?: string; country?: string } {
  return { ...(c.jurisdiction === undefined ? {} : { jurisdiction: c.jurisdiction }), ...(c.country === undefined ? {} : { country: c.country }) };
}

/** A `services` / `functions` claim: absent is nothing; otherwise a list like `rooms`. */
function nameClaim(v: unknown, claim: string): (name: string) => boolean {
  if (v === undefined) return noRoom;
  if (!Array.isArray(v) || v.length > 256 || !v.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 256)) {
    throw failed(`${claim} must be a list of at most 256 name patterns`);
  }
  return roomMatcher(v as string[]);
}
