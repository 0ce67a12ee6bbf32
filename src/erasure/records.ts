/**
 * The erasure bucket's keys and values (one bucket per region, `placed.erasures(region)`): the
 * only place that spells them.
 *
 *   q.<id>            → ErasureRequest            a request (copied into every bucket that can take it)
 *   c.<id>.<region>   → Confirmation              a region's signed confirmation (its own bucket
 *                                                 first, then every other it reaches)
 *   k.<kid>           → public JWK                a key this region's nodes sign with
 */
import { randomBytes } from 'node:crypto';
import { kvToken, unKvToken } from '../bus/subjects.js';
import type { Confirmation, ErasureRequest } from './types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export const ID = /^er_[A-Za-z0-9_-]{16,64}$/;
export const newErasureId = (): string => `er_${randomBytes(12).toString('base64url')}`;

export const recordKeys = {
  request: (id: string) => `q.${kvToken(id)}`,
  requests: () => 'q.*',
  confirmation: (id: string, region: string) => `c.${kvToken(id)}.${kvToken(region)}`,
  confirmationsOf: (id: string) => `c.${kvToken(id)}.*`,
  confirmedBy: (region: string) => `c.*.${kvToken(region)}`,
  key: (kid: string) => `k.${kvToken(kid)}`,
  keys: () => 'k.*',
  /** The id in a `q.` or `c.` key. */
  idOf: (key: string) => unKvToken(key.split('.')[1] ?? ''),
} as const;

export const encodeJson = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));

export function decodeJson<T>(bytes: Uint8Array | undefined): T | undefined {
  if (bytes === undefined || bytes.byteLength === 0) return undefined;
  try {
    return JSON.parse(dec.decode(bytes)) as T;
  } catch {
    return undefined;
  }
}

export const isRequest = (v: ErasureRequest | undefined): v is ErasureRequest => v !== undefined && typeof v.id === 'string' && typeof v.subject === 'object' && v.subject !== null;
export const isConfirmation = (v: Confirmation | undefined): v is Confirmation => v !== undefined && typeof v.jws === 'string' && typeof v.region === 'string';
