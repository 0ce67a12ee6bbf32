/**
 * Residency claims at auth (src/node/auth.ts with src/residency): a token's `jurisdiction` and
 * `country` claims, and the same fields of a dev `auth` frame, must name known codes and agree
 * with the residency rule the user id falls under; otherwise AUTH_RESIDENCY (closed 4754), never
 * a plain AUTH_FAILED and never an identity.
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isMeridianError, MeridianError } from '../../src/errors/mod.js';
import { Authenticator } from '../../src/node/auth.js';
import type { Identity } from '../../src/node/auth.js';
import { parseClientFrame } from '../../src/protocol/mod.js';
import { parseTopology } from '../../src/topology/mod.js';
import { hsToken, SECRET } from './fixtures.js';
import { FOUR_REGIONS_YAML } from '../residency/fixtures.js';

const topology = parseTopology(`${FOUR_REGIONS_YAML}residency:
  - { name: gdpr, countries: [EU], users: ["eu-*"], userJurisdictions: [EU], jurisdictions: [EU] }
  - { name: pdpa, countries: [SG], users: ["sg-*"], userJurisdictions: [SG], jurisdictions: [SG], mode: strict }
  - { name: ccpa, users: ["us-*"], userJurisdictions: [CA], jurisdictions: [US, EU] }
  - { name: steer-jp, countries: [JP], jurisdictions: [SG] }
`);

const auth = new Authenticator({ hs256Secret: SECRET, dev: true }, topology);
const token = (sub: string, claims: Record<string, unknown> = {}): Promise<string> => hsToken({ sub, rooms: ['*'], ...claims });

/** The error code verifying a token with these claims gives, or 'ok'. */
async function verifyCode(sub: string, claims: Record<string, unknown>): Promise<string> {
  try {
    await auth.verify(await token(sub, claims));
    return 'ok';
  } catch (err) {
    if (isMeridianError(err)) return err.code;
    throw err;
  }
}

/** The MeridianError verifying a token with these claims gives. */
async function refusal(sub: string, claims: Record<string, unknown>): Promise<MeridianError> {
  const err = await auth.verify(await token(sub, claims)).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isMeridianError(err)) throw new Error(`expected a MeridianError, got ${String(err)}`);
  return err;
}

function expectRefused(err: MeridianError, message: RegExp): void {
  expect(err.code).toBe(ErrorCode.AuthResidency);
  expect(err.message).toMatch(message);
}

function devCode(a: Authenticator, user: string, claims: { jurisdiction?: string; country?: string }): string {
  try {
    a.devIdentity(user, claims);
    return 'ok';
  } catch (err) {
    if (isMeridianError(err)) return err.code;
    throw err;
  }
}

describe('residency claims in tokens', () => {
  it('accepts claims that agree with the rules and carries them on the identity', async () => {
    const id = await auth.verify(await token('eu-anna', { jurisdiction: 'EU', country: 'DE' }));
    expect(id).toMatchObject({ user: 'eu-anna', jurisdiction: 'EU', country: 'DE' });
    expect((await auth.verify(await token('sg-bo', { jurisdiction: 'SG', country: 'SG' }))).jurisdiction).toBe('SG');
    expect((await auth.verify(await token('us-cy', { jurisdiction: 'CA' }))).jurisdiction).toBe('CA');
    // No rule covers US claims or users like "alice": anything known goes.
    expect(await auth.verify(await token('alice', { jurisdiction: 'US', country: 'US' }))).toMatchObject({ jurisdiction: 'US', country: 'US' });
    // JP is only steered: no data rule covers it.
    expect((await auth.verify(await token('alice', { country: 'JP' }))).country).toBe('JP');
  });

  it('leaves the fields off the identity when the token has no such claims', async () => {
    const id: Identity = await auth.verify(await token('eu-anna'));
    expect(id.user).toBe('eu-anna');
    expect('jurisdiction' in id).toBe(false);
    expect('country' in id).toBe(false);
  });

  it('refuses a jurisdiction nobody knows with AUTH_RESIDENCY naming the known ones', async () => {
    const err = await refusal('alice', { jurisdiction: 'MARS' });
    expect(err).toBeInstanceOf(MeridianError);
    expect(err.code).toBe(ErrorCode.AuthResidency);
    expect(err.message).toBe('unknown jurisdiction "MARS" (known: CA, EU, SG, US)');
    expect(await verifyCode('eu-anna', { jurisdiction: 'XX' })).toBe(ErrorCode.AuthResidency);
  });

  it('refuses a claim a rule covers when the id does not match that rule\'s users', async () => {
    expectRefused(await refusal('alice', { jurisdiction: 'EU' }), /jurisdiction EU, which residency rule "gdpr" covers/);
    expect(await verifyCode('sg-bo', { jurisdiction: 'EU' })).toBe(ErrorCode.AuthResidency);
    expect(await verifyCode('alice', { jurisdiction: 'CA' })).toBe(ErrorCode.AuthResidency);
    // Countries too, with the EU group expanded: FR is in gdpr's countries.
    expectRefused(await refusal('alice', { country: 'FR' }), /country FR, which residency rule "gdpr" covers/);
    expect(await verifyCode('us-cy', { country: 'SG' })).toBe(ErrorCode.AuthResidency);
  });

  it('refuses an id whose rule does not take the claimed jurisdiction', async () => {
    expectRefused(await refusal('eu-anna', { jurisdiction: 'US' }), /falls under residency rule "gdpr" \(EU\), but the credential claims jurisdiction US/);
    expect(await verifyCode('us-cy', { jurisdiction: 'US' })).toBe(ErrorCode.AuthResidency);
    expect(await verifyCode('sg-bo', { jurisdiction: 'CA' })).toBe(ErrorCode.AuthResidency);
  });

  it('refuses malformed claim values: lower case, numbers, wrong length, empty, null, lists', async () => {
    for (const jurisdiction of ['eu', 'Eu', 42, 'E', 'EUROPEAN1', '', null, ['EU'], { code: 'EU' }]) {
      expect(await verifyCode('eu-anna', { jurisdiction })).toBe(ErrorCode.AuthResidency);
    }
    for (const country of ['de', 'DEU', 49, 'D', '', null, ['DE']]) {
      expect(await verifyCode('eu-anna', { country })).toBe(ErrorCode.AuthResidency);
    }
    await expect(auth.verify(await token('eu-anna', { jurisdiction: 'eu' }))).rejects.toThrow('jurisdiction must be an upper-case code such as EU');
    await expect(auth.verify(await token('eu-anna', { country: 49 }))).rejects.toThrow('country must be an upper-case code such as DE');
  });

  it('checks the signature and expiry before any claim: a forged or expired token is AUTH_FAILED / AUTH_EXPIRED', async () => {
    const forged = await hsToken({ sub: 'alice', jurisdiction: 'MARS' }, { secret: 'another-secret-of-16-chars-or-more' });
    await expect(auth.verify(forged)).rejects.toMatchObject({ code: ErrorCode.AuthFailed });
    const expired = await new SignJWT({ jurisdiction: 'MARS' }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(SECRET));
    await expect(auth.verify(expired)).rejects.toMatchObject({ code: ErrorCode.AuthExpired });
  });

  it('without data rules only unknown jurisdictions are refused', async () => {
    const plain = new Authenticator({ hs256Secret: SECRET }, parseTopology(`regions:
  - { name: eu-west, location: { lat: 53.35, lon: -6.26 }, jurisdiction: EU }
residency:
  - { name: gdpr, countries: [EU], jurisdictions: [EU] }
`));
    await expect(plain.verify(await token('alice', { jurisdiction: 'EU', country: 'DE' }))).resolves.toMatchObject({ jurisdiction: 'EU', country: 'DE' });
    await expect(plain.verify(await token('alice', { jurisdiction: 'SG' }))).rejects.toMatchObject({ code: ErrorCode.AuthResidency });
    await expect(plain.verify(await token('alice', { jurisdiction: 'eu' }))).rejects.toMatchObject({ code: ErrorCode.AuthResidency });
  });
});

describe('residency claims in dev auth', () => {
  it('accepts agreeing claims and carries them on the identity', () => {
    expect(auth.devIdentity('eu-anna', { jurisdiction: 'EU', country: 'DE' })).toMatchObject({ user: 'eu-anna', jurisdiction: 'EU', country: 'DE', rooms: ['*'] });
    const bare = auth.devIdentity('eu-anna');
    expect('jurisdiction' in bare || 'country' in bare).toBe(false);
    expect(devCode(auth, 'alice', { jurisdiction: 'US' })).toBe('ok');
    expect(devCode(auth, 'us-cy', { jurisdiction: 'CA', country: 'US' })).toBe('ok');
  });

  it('refuses the same disagreements as tokens, with AUTH_RESIDENCY', () => {
    expect(devCode(auth, 'alice', { jurisdiction: 'EU' })).toBe(ErrorCode.AuthResidency);
    expect(devCode(auth, 'alice', { country: 'IT' })).toBe(ErrorCode.AuthResidency);
    expect(devCode(auth, 'eu-anna', { jurisdiction: 'SG' })).toBe(ErrorCode.AuthResidency);
    expect(devCode(auth, 'eu-anna', { jurisdiction: 'US' })).toBe(ErrorCode.AuthResidency);
    expect(devCode(auth, 'eu-anna', { jurisdiction: 'MARS' })).toBe(ErrorCode.AuthResidency);
    // A lower-case jurisdiction is not one anybody knows.
    expect(devCode(auth, 'eu-anna', { jurisdiction: 'eu' })).toBe(ErrorCode.AuthResidency);
  });

  it('checks the shape of the claims itself, not only through the frame schema', () => {
    const none = new Authenticator({ dev: true });
    // No topology: any well-formed jurisdiction may be claimed, a malformed country never.
    expect(devCode(none, 'alice', { jurisdiction: 'ZZ' })).toBe('ok');
    expect(devCode(none, 'alice', { country: 'de' })).toBe(ErrorCode.AuthResidency);
    expect(devCode(none, 'alice', { country: 'DEU' })).toBe(ErrorCode.AuthResidency);
  });

  it('without the dev flag is AUTH_FAILED whatever the claims', () => {
    const strict = new Authenticator({ hs256Secret: SECRET }, topology);
    expect(devCode(strict, 'eu-anna', { jurisdiction: 'EU' })).toBe(ErrorCode.AuthFailed);
    expect(devCode(strict, 'alice', { jurisdiction: 'MARS' })).toBe(ErrorCode.AuthFailed);
  });

  it('the auth frame takes the fields in dev form only, upper-case codes only', () => {
    expect(parseClientFrame('{"type":"auth","id":"a1","user":"eu-anna","jurisdiction":"EU","country":"DE"}')).toMatchObject({ ok: true, frame: { user: 'eu-anna', jurisdiction: 'EU', country: 'DE' } });
    for (const bad of [
      '{"type":"auth","id":"a2","user":"eu-anna","jurisdiction":"eu"}',
      '{"type":"auth","id":"a3","user":"eu-anna","country":"de"}',
      '{"type":"auth","id":"a4","user":"eu-anna","country":49}',
      '{"type":"auth","id":"a5","user":"eu-anna","jurisdiction":1}',
      // With a token the claims must be in the (signed) token.
      '{"type":"auth","id":"a6","token":"x.y.z","jurisdiction":"EU"}',
    ]) {
      const r = parseClientFrame(bad);
      expect(r.ok, bad).toBe(false);
      expect(JSON.stringify(r)).toMatch(/jurisdiction|country/);
    }
  });
});
