/**
 * Erasure (the right to be forgotten) across every region and every replica, with a receipt.
 *
 * A request names a subject: a user (every message they sent, their inbox index entries,
 * cursors, presence records, dead letters and async invocation records that carry them) or a
 * conversation (its log entries, inbox index entries and cursors). Any region node takes it; every
 * region then erases what it holds — its own log holds the conversations it homes AND the replica
 * copies it keeps, so erasing in every region reaches every copy — and confirms, signing its
 * confirmation with its node key. The erasure is complete once every region of the topology has
 * confirmed; its receipt is a compact JWS over the per-region confirmations (receipt.ts).
 *
 * Contract (MUST / MUST NOT), `ErasureService`:
 * - `request` MUST record the request durably in a majority of the regions' erasure buckets
 *   (`placed.erasures(region)`) before resolving, else reject with `ERASURE_UNAVAILABLE`
 *   (retryable): any later majority read then sees it, so a region that was down finds it when it
 *   returns. It MUST NOT fail for an unknown user (the receipt then has zero counts), and a
 *   second request for the same subject is a new request (new id, counts of what was left).
 * - Each region MUST process every request it has not confirmed, at start before its node serves
 *   anything, on a nudge (`subjects.erasure(region)`) and periodically; processing is
 *   idempotent. A region MUST NOT serve a log read (`gate(log).read`) until it has read a
 *   majority of the erasure buckets since it last lost its bus, and processed what it found.
 * - `status` MUST list every region of the topology, `pending` or `done` with counts and time,
 *   and `complete: true` with a `receipt` once all have confirmed; `null` for an unknown id.
 * Embedded and NATS differ only through the Bus and Kv they are given.
 */
import type { JWK } from 'jose';

/** What to erase: one user, or one conversation (canonical id: dm:a:b, room:r). */
export type ErasureSubject = { readonly user: string } | { readonly conversation: string };

/** What one region removed, by kind. Zero where nothing was left. */
export interface ErasureCounts {
  /** Log entries (homed conversations and replica copies alike). */
  readonly log: number;
  /** Inbox index entries. */
  readonly inbox: number;
  readonly cursors: number;
  /** Presence records (sessions and room memberships). */
  readonly presence: number;
  /** Dead letters carrying the user. */
  readonly dlq: number;
  /** Async invocation records carrying the user. */
  readonly invocations: number;
}

export const ZERO_COUNTS: ErasureCounts = { log: 0, inbox: 0, cursors: 0, presence: 0, dlq: 0, invocations: 0 };

/** A request as recorded in the erasure buckets. */
export interface ErasureRequest {
  readonly id: string;
  readonly subject: ErasureSubject;
  /** Milliseconds since the epoch. */
  readonly requestedAt: number;
  /** The region whose node took the request. */
  readonly requestedIn: string;
}

/** One region's confirmation: what it erased and when, signed by the node that did it. */
export interface Confirmation {
  readonly id: string;
  readonly region: string;
  readonly node: string;
  readonly counts: ErasureCounts;
  readonly at: number;
  /** Compact JWS (EdDSA) over the confirmation payload, by the key `kid`. */
  readonly jws: string;
  readonly kid: string;
}

export type RegionStatus = { readonly region: string; readonly state: 'pending' } | { readonly region: string; readonly state: 'done'; readonly counts: ErasureCounts; readonly at: number; readonly node: string };

export interface ErasureStatus {
  readonly id: string;
  readonly subject: ErasureSubject;
  readonly requestedAt: number;
  readonly regions: readonly RegionStatus[];
  readonly complete: boolean;
  /** Once complete: the signed receipt (compact JWS, receipt.ts `verifyReceipt`). */
  readonly receipt?: string;
}

/**
 * Something beside the log that keeps data about users and erases it when asked (the services
 * module: dead letters, invocation records). Returns what it removed.
 */
export interface ErasureTarget {
  eraseSubject(subject: ErasureSubject): Promise<Partial<ErasureCounts>>;
}

/** A JWK Set of the regions' public keys (`GET /v1/erasures/keys`). */
export interface Jwks {
  readonly keys: readonly (JWK & { readonly kid: string; readonly region?: string })[];
}

export interface ErasureService {
  request(subject: ErasureSubject): Promise<ErasureRequest>;
  status(id: string): Promise<ErasureStatus | null>;
  /** The public keys of every region reachable now (and this node's). */
  jwks(): Promise<Jwks>;
}

export const subjectLabel = (s: ErasureSubject): string => ('user' in s ? `user ${s.user}` : `conversation ${s.conversation}`);
