/**
 * How messaging reports the bus or a KV bucket failing under it: `MSG_TIMEOUT` for a timeout (the
 * operation may have happened; retry is safe), `MSG_UNAVAILABLE` otherwise. Messaging's own typed
 * errors pass through unchanged.
 */
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';

const OWN = new Set<string>([ErrorCode.MsgUnavailable, ErrorCode.MsgTimeout, ErrorCode.MsgClosed]);

export function unavailable(err: unknown, what: string): MeridianError {
  if (isMeridianError(err) && OWN.has(err.code)) return err;
  const timeout = isMeridianError(err) && err.code === ErrorCode.BusTimeout;
  return new MeridianError(timeout ? ErrorCode.MsgTimeout : ErrorCode.MsgUnavailable, `${what} is unreachable: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
