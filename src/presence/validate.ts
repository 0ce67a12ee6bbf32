/**
 * Input checks of the presence API: ids as the wire protocol defines them (`checkId`), options
 * with their defaults. Every refusal is a `PRESENCE_INVALID` naming the field.
 */
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { checkId } from '../protocol/conversation.js';
import type { PresenceOptions } from './types.js';

export const DEFAULT_GRACE_MS = 3000;
export const DEFAULT_TTL_MS = 15_000;
export const DEFAULT_FLUSH_DELAY_MS = 20;
/** Bucket max age: collects tombstones and delete markers; live keys are rewritten well before. */
export const DEFAULT_KEY_TTL_MS = 60 * 60_000;
export const DEFAULT_ROOM_LIMIT = 100;
export const MAX_ROOM_LIMIT = 10_000;
const MAX_SESSION_LENGTH = 1024;

const invalid = (message: string, details: Record<string, unknown>): MeridianError =>
  new MeridianError(ErrorCode.PresenceInvalid, message, { details });

/** A user, room or node id: 1-120 characters, no control characters or edge whitespace. */
export function assertId(what: 'user' | 'room' | 'node', id: unknown): asserts id is string {
  const c = checkId(id);
  if (!c.ok) throw invalid(`${what} id ${c.reason}`, { field: what });
}

/**
 * The deployment's regions: a non-empty list of distinct region names, this node's own among
 * them (every region's presence bucket is watched, the own one written).
 */
export function assertRegions(regions: unknown, own: string): asserts regions is readonly string[] {
  if (!Array.isArray(regions) || regions.length === 0 || regions.some((r) => typeof r !== 'string' || r.length === 0)) {
    throw invalid('regions must be a non-empty list of region names', { field: 'regions' });
  }
  if (new Set(regions).size !== regions.length) throw invalid('regions must not repeat a region', { field: 'regions', regions });
  if (!regions.includes(own)) throw invalid(`regions must include this node's region ${own}`, { field: 'regions', regions, region: own });
}

export function assertSession(session: unknown): asserts session is string {
  if (typeof session !== 'string' || session.length === 0 || session.length > MAX_SESSION_LENGTH) {
    throw invalid(`session id must be a string of 1-${MAX_SESSION_LENGTH} characters`, { field: 'session' });
  }
}

export function roomLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_ROOM_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_ROOM_LIMIT) {
    throw invalid(`limit must be an integer from 1 to ${MAX_ROOM_LIMIT}`, { field: 'limit', limit });
  }
  return limit;
}

export interface ResolvedOptions {
  readonly graceMs: number;
  readonly ttlMs: number;
  readonly flushDelayMs: number;
  readonly keyTtlMs: number;
}

function ms(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw invalid(`${name} must be a finite number >= ${min}`, { field: name, value });
  }
  return value;
}

export function resolveOptions(opts: PresenceOptions & { keyTtlMs?: number }): ResolvedOptions {
  const ttlMs = ms('ttlMs', opts.ttlMs, DEFAULT_TTL_MS, 30);
  const keyTtlMs = ms('keyTtlMs', opts.keyTtlMs, Math.max(DEFAULT_KEY_TTL_MS, 4 * ttlMs), 0);
  // Records are rewritten every keyTtl/3; the bucket must keep them several liveness periods.
  if (keyTtlMs > 0 && keyTtlMs < 3 * ttlMs) {
    throw invalid('keyTtlMs must be 0 (keep forever) or at least 3 × ttlMs', { field: 'keyTtlMs', keyTtlMs, ttlMs });
  }
  return {
    graceMs: ms('graceMs', opts.graceMs, DEFAULT_GRACE_MS, 0),
    ttlMs,
    flushDelayMs: ms('flushDelayMs', opts.flushDelayMs, DEFAULT_FLUSH_DELAY_MS, 0),
    keyTtlMs,
  };
}
