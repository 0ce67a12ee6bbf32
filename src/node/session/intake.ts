/**
 * A client's WebSocket message as a frame, or the error frame that refuses it: binary messages,
 * messages over the frame rate (RATE_LIMITED with `retryAfterMs`, answered to the `ref` the
 * frame carries when it has a sane one), and what `parseClientFrame` rejects. Counted in
 * `framesIn` / `rateLimit`. Every refusal also counts against the session's abuse bucket (the
 * core's part). Never throws.
 */
import { errorFrame, parseClientFrame, scanRef } from '../../protocol/mod.js';
import type { ClientFrame, ErrorFrame } from '../../protocol/mod.js';
import type { NodeContext } from '../context.js';
import type { TokenBucket } from '../rate-limit.js';

export type Intake = { readonly ok: true; readonly frame: ClientFrame } | { readonly ok: false; readonly error: ErrorFrame };

/** Read one message; `frames` is the session's frame-rate bucket, `now` its clock. */
export function intake(ctx: NodeContext, frames: TokenBucket, data: Buffer, isBinary: boolean, now: number): Intake {
  const { limits } = ctx.opts;
  if (isBinary) {
    ctx.metrics.framesIn.inc('invalid');
    return { ok: false, error: errorFrame('BAD_FRAME', 'binary frames are not accepted: send JSON text frames') };
  }
  const wait = frames.take(now);
  if (wait > 0) {
    // Not parsed (that is what the limit saves): the ref is scanned from the first KiB.
    const ref = scanRef(data.subarray(0, 1024).toString('utf8'));
    const validRef = ref !== undefined && ref.length <= limits.maxRefLength && !/[\u0000-\u001f\u007f]/.test(ref) ? ref : undefined; // eslint-disable-line no-control-regex
    ctx.metrics.rateLimit('frame');
    return { ok: false, error: errorFrame('RATE_LIMITED', `too many frames: at most ${ctx.opts.rateLimit.ratePerSec} per second`, { ref: validRef, retryAfterMs: wait }) };
  }
  const parsed = parseClientFrame(data, limits);
  ctx.metrics.framesIn.inc(parsed.ok ? parsed.frame.type : 'invalid');
  return parsed.ok ? { ok: true, frame: parsed.frame } : { ok: false, error: parsed.error };
}
