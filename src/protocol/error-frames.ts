/**
 * Building `error` frames, and mapping Meridian's internal error codes onto wire codes so the
 * region node answers every failure the same way. Internal codes (src/errors) name what broke
 * inside; wire codes name what the client should do about it.
 */

import { ErrorCode } from '../errors/mod.js';
import type { ErrorCode as ErrorCodeValue } from '../errors/mod.js';
import { RequestError, isRetryable } from './codes.js';
import type { RequestErrorName } from './codes.js';
import type { ErrorFrame } from './server-frames.js';

export interface ErrorFrameOptions {
  ref?: string | undefined;
  path?: string | undefined;
  retryAfterMs?: number | undefined;
}

/** An `error` frame for a request error; `retryable` follows from the code. */
export function errorFrame(name: RequestErrorName, message: string, opts: ErrorFrameOptions = {}): ErrorFrame {
  const frame: ErrorFrame = { type: 'error', code: RequestError[name], name, message, retryable: isRetryable(name) };
  if (opts.ref !== undefined) frame.ref = opts.ref;
  if (opts.path !== undefined) frame.path = opts.path;
  if (opts.retryAfterMs !== undefined) frame.retryAfterMs = opts.retryAfterMs;
  return frame;
}

const FROM_INTERNAL: Partial<Record<ErrorCodeValue, RequestErrorName>> = {
  [ErrorCode.LogInvalidConversation]: 'INVALID_FIELD',
  [ErrorCode.LogInvalidArgument]: 'INVALID_FIELD',
  [ErrorCode.LogBodyTooLarge]: 'BODY_TOO_LARGE',
  [ErrorCode.LogDuplicateGone]: 'DUPLICATE_GONE',
  [ErrorCode.LogContention]: 'UNAVAILABLE',
  [ErrorCode.LogUnavailable]: 'UNAVAILABLE',
  [ErrorCode.LogClosed]: 'UNAVAILABLE',
  [ErrorCode.BusUnavailable]: 'UNAVAILABLE',
  [ErrorCode.BusNoResponders]: 'UNAVAILABLE',
  [ErrorCode.BusClosed]: 'UNAVAILABLE',
  [ErrorCode.BusTimeout]: 'TIMEOUT',
  [ErrorCode.BusPayloadTooLarge]: 'BODY_TOO_LARGE',
  [ErrorCode.MsgForbidden]: 'FORBIDDEN',
  [ErrorCode.MsgInvalid]: 'INVALID_FIELD',
  [ErrorCode.MsgUnavailable]: 'UNAVAILABLE',
  [ErrorCode.MsgTimeout]: 'TIMEOUT',
  [ErrorCode.MsgClosed]: 'UNAVAILABLE',
  [ErrorCode.PresenceClosed]: 'UNAVAILABLE',
  [ErrorCode.PresenceInvalid]: 'INVALID_FIELD',
  [ErrorCode.NotAvailable]: 'NOT_SUPPORTED',
  [ErrorCode.InvalidArgument]: 'INVALID_FIELD',
  [ErrorCode.MsgFenced]: 'UNAVAILABLE',
  [ErrorCode.MsgDurabilityNotAllowed]: 'INVALID_FIELD',
  [ErrorCode.LogOutOfOrder]: 'UNAVAILABLE',
  [ErrorCode.ResidencyForbidden]: 'RESIDENCY_FORBIDDEN',
  [ErrorCode.ResidencyConflict]: 'RESIDENCY_FORBIDDEN',
};

/** The wire error for an internal error code; unknown codes are INTERNAL_ERROR (retryable). */
export function wireErrorName(code: string | undefined): RequestErrorName {
  return (code !== undefined && FROM_INTERNAL[code as ErrorCodeValue]) || 'INTERNAL_ERROR';
}
