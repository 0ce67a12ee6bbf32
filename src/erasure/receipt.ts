/**
 * Confirmations and receipts as compact JWS (EdDSA over Ed25519), and their verification.
 *
 * - A **confirmation** is signed by the node that erased in its region: payload
 *   `{ typ: "meridian.erasure.confirmation", id, subject, region, node, counts, at }`.
 * - A **receipt** is signed by the node that answers `GET /v1/erasures/{id}` once every region has
 *   confirmed: payload `{ typ: "meridian.erasure.receipt", id, subject, requestedAt, completedAt,
 *   regions: [{ region, node, counts, at, kid, confirmation }] }`, each `confirmation` the region's
 *   own JWS. `verifyReceipt` checks the outer signature and every region's, and that each
 *   region's signed confirmation says what the receipt lists for it: a receipt cannot claim more
 *   than the regions signed.
 * Keys are looked up by the `kid` of the protected header in a JWKS (`GET /v1/erasures/keys`).
 */
import { CompactSign, compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import type { SigningKey } from './signing.js';
import type { Confirmation, ErasureCounts, ErasureRequest, ErasureSubject, Jwks } from './types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ReceiptRegion {
  readonly region: string;
  readonly node: string;
  readonly counts: ErasureCounts;
  readonly at: number;
  readonly kid: string;
  readonly confirmation: string;
}

export interface ReceiptPayload {
  readonly typ: 'meridian.erasure.receipt';
  readonly id: string;
  readonly subject: ErasureSubject;
  readonly requestedAt: number;
  readonly completedAt: number;
  readonly regions: readonly ReceiptRegion[];
}

interface ConfirmationPayload {
  readonly typ: 'meridian.erasure.confirmation';
  readonly id: string;
  readonly subject: ErasureSubject;
  readonly region: string;
  readonly node: string;
  readonly counts: ErasureCounts;
  readonly at: number;
}

function sign(key: SigningKey, payload: unknown): Promise<string> {
  return new CompactSign(enc.encode(JSON.stringify(payload))).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

export async function signConfirmation(key: SigningKey, r: ErasureRequest, node: string, counts: ErasureCounts, at: number): Promise<Confirmation> {
  const payload: ConfirmationPayload = { typ: 'meridian.erasure.confirmation', id: r.id, subject: r.subject, region: key.region, node, counts, at };
  return { id: r.id, region: key.region, node, counts, at, kid: key.kid, jws: await sign(key, payload) };
}

/** The receipt of a complete erasure: the confirmations in topology order. Deterministic (EdDSA). */
export function signReceipt(key: SigningKey, r: ErasureRequest, confirmations: readonly Confirmation[]): Promise<string> {
  const payload: ReceiptPayload = {
    typ: 'meridian.erasure.receipt',
    id: r.id,
    subject: r.subject,
    requestedAt: r.requestedAt,
    completedAt: Math.max(r.requestedAt, ...confirmations.map((c) => c.at)),
    regions: confirmations.map((c) => ({ region: c.region, node: c.node, counts: c.counts, at: c.at, kid: c.kid, confirmation: c.jws })),
  };
  return sign(key, payload);
}

const invalid = (why: string): MeridianError => new MeridianError(ErrorCode.ErasureReceiptInvalid, `the erasure receipt does not verify: ${why}`);

async function verifyJws(jws: string, jwks: Jwks): Promise<{ payload: unknown; kid: string }> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(jws).kid;
  } catch {
    throw invalid('not a compact JWS');
  }
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (kid === undefined || jwk === undefined) throw invalid(`no key ${JSON.stringify(kid ?? null)} in the key set`);
  try {
    const key = await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
    const { payload } = await compactVerify(jws, key, { algorithms: ['EdDSA'] });
    return { payload: JSON.parse(dec.decode(payload)) as unknown, kid };
  } catch {
    throw invalid(`bad signature by key ${kid}`);
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Verify a receipt against a key set: the outer signature, every region's confirmation and its
 * agreement with the receipt. With `regions`, every one of them must have confirmed. Returns the
 * payload; throws `ERASURE_RECEIPT_INVALID` saying what failed.
 */
export async function verifyReceipt(receipt: string, jwks: Jwks, opts: { regions?: readonly string[] } = {}): Promise<ReceiptPayload> {
  const { payload } = await verifyJws(receipt.trim(), jwks);
  const p = payload as ReceiptPayload;
  if (p === null || typeof p !== 'object' || p.typ !== 'meridian.erasure.receipt' || !Array.isArray(p.regions)) throw invalid('not an erasure receipt');
  const listed: readonly ReceiptRegion[] = p.regions;
  for (const r of listed) {
    const c = await verifyJws(r.confirmation, jwks);
    const cp = c.payload as ConfirmationPayload;
    if (cp.typ !== 'meridian.erasure.confirmation' || cp.id !== p.id || !same(cp.subject, p.subject) || cp.region !== r.region || cp.node !== r.node || cp.at !== r.at || !same(cp.counts, r.counts) || c.kid !== r.kid) {
      throw invalid(`region ${r.region}: its signed confirmation does not match the receipt`);
    }
    const owner = jwks.keys.find((k) => k.kid === c.kid)?.region;
    if (owner !== undefined && owner !== r.region) throw invalid(`region ${r.region} confirmed with a key of ${owner}`);
  }
  for (const want of opts.regions ?? []) if (!listed.some((r) => r.region === want)) throw invalid(`region ${want} has not confirmed`);
  return p;
}
