/**
 * Retention of the message log, per conversation: how long an entry is kept (`maxAgeMs`, from
 * its timestamp) and how many of a conversation's newest seqs are kept (`maxCount`).
 *
 * The log asks `LogOptions.retention(conversation)` for a conversation's policy; when it answers
 * undefined (or is absent), the global `maxAgeMs` / `maxPerConversation` apply. Both stores use
 * the same pure cut-offs from here, so a home and its replica, holding the same entries (same
 * seqs, same timestamps), hide and remove exactly the same ones whatever their clocks of storing.
 */
import type { LogOptions } from './types.js';
export type { RetentionOf, RetentionPolicy } from './types.js';


/** A policy resolved for one conversation: 0 means no limit. */
export interface Limits {
  readonly maxAgeMs: number;
  readonly maxCount: number;
}

const clean = (v: number | undefined): number => (v !== undefined && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/** The limits of `conversation` under `opts` (a rule wins over the global options as a whole). */
export function limitsOf(opts: Pick<LogOptions, 'retention' | 'maxAgeMs' | 'maxPerConversation'>, conversation: string): Limits {
  const p = opts.retention?.(conversation);
  if (p !== undefined) return { maxAgeMs: clean(p.maxAgeMs), maxCount: clean(p.maxCount) };
  return { maxAgeMs: clean(opts.maxAgeMs), maxCount: clean(opts.maxPerConversation) };
}

export const unlimited = (l: Limits): boolean => l.maxAgeMs === 0 && l.maxCount === 0;

/** Entries with a timestamp below this are gone (0: no age limit). */
export function minTimestamp(l: Limits, now: number): number {
  return l.maxAgeMs > 0 ? now - l.maxAgeMs : 0;
}

/** Entries with a seq at or below this are gone (0: no count limit). */
export function countFloor(l: Limits, last: number): number {
  return l.maxCount > 0 ? Math.max(0, last - l.maxCount) : 0;
}

/** Whether the entry (`seq`, `timestamp`) of a conversation at `last` is beyond its limits. */
export function beyond(l: Limits, seq: number, timestamp: number, last: number, now: number): boolean {
  return (l.maxAgeMs > 0 && timestamp < now - l.maxAgeMs) || (l.maxCount > 0 && seq <= last - l.maxCount);
}
