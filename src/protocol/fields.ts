/**
 * Zod building blocks shared by the client and server frame schemas: ids, conversations,
 * sequence numbers. Checks that need a wire code other than INVALID_FIELD attach it as the
 * issue's `params.wire`, which the parser reads back.
 */

import { z } from 'zod';
import { checkId, isConversation } from './conversation.js';
import type { RequestErrorName } from './codes.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Any JSON value: what a message body may be. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Custom issue params: the wire error a failed check maps to. */
export interface WireParams {
  wire: RequestErrorName;
}

/** A client-chosen frame id, echoed as `ref` in answers. */
export function refField(max: number) {
  return z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');
}

/** True when `value` would pass `refField(max)`: used to pick `ref` out of invalid frames. */
export function isRef(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max && !CONTROL.test(value);
}

/** A user or room id (rules in conversation.ts). */
export function idField(max: number) {
  return z.string().superRefine((s, ctx) => {
    const c = checkId(s, max);
    if (!c.ok) ctx.addIssue({ code: 'custom', message: c.reason });
  });
}

export function conversationField(maxId: number) {
  return z.string().refine((s) => isConversation(s, maxId), 'must be a canonical conversation id (dm:<a>:<b> or room:<id>)');
}

/** A sequence number: seqs start at 1; 0 means "nothing yet" where a cursor is allowed. */
export function seqField(min: 0 | 1) {
  return z.number().int('must be an integer').min(min, `must be >= ${min}`).max(Number.MAX_SAFE_INTEGER, 'must be a safe integer');
}

/** Milliseconds since the epoch. */
export const timestampField = z.number().int().nonnegative();
