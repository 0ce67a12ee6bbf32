/** `--expires`: a lifetime (`90s`, `15m`, `12h`, `30d`, `8w`) or an ISO 8601 date, as an instant. */
import { ErrorCode, MeridianError } from '../errors/mod.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds since the epoch when a key made at `now` expires. Throws KEYS_INVALID_ARGUMENT. */
export function parseExpiry(text: string, now: number): number {
  const t = text.trim();
  const m = /^(\d{1,6})([smhdw])$/.exec(t);
  if (m) {
    const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
    if (ms <= 0) throw new MeridianError(ErrorCode.KeysInvalidArgument, `--expires must be a positive lifetime, not ${JSON.stringify(t)}`);
    return now + ms;
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    const at = Date.parse(t);
    if (!Number.isNaN(at)) {
      if (at <= now) throw new MeridianError(ErrorCode.KeysInvalidArgument, `--expires ${t} is in the past`);
      return at;
    }
  }
  throw new MeridianError(ErrorCode.KeysInvalidArgument, `--expires takes a lifetime (90s, 15m, 12h, 30d, 8w) or a date (2030-01-31, 2030-01-31T12:00:00Z), not ${JSON.stringify(t.slice(0, 40))}`);
}
