/**
 * What an API key may do: a set of scopes, each one row of the operator surface
 * (docs/security.md, "Credentials and scopes"). Scopes are independent: `admin` does not imply
 * `dlq`, `send` does not imply `services`. The deprecated `--admin-token` means every scope.
 *
 * - `admin`: every admin endpoint: the node's `POST /v1/admin/drain` and `GET /v1/audit`, the
 *   edge's `POST /v1/admin/regions/{r}/down|up|drain` and dashboard feed, the services module's
 *   operator listings (`GET /v1/services`, `/v1/services/{s}`, `/v1/services/{s}/endpoints`,
 *   `GET /v1/functions`, `/v1/functions/{f}`);
 * - `send`: the node's `POST /v1/messages` as any user named in `from` (server-side senders);
 * - `services`: calling services (`/v1/services/{s}/…`) and functions (`POST /v1/functions/{f}`,
 *   `GET /v1/invocations/{id}`) over HTTP, any name;
 * - `dlq`: the dead-letter queue (`/v1/dlq/…`: list, read, replay, delete);
 * - `erase`: the erasure endpoints, `POST /v1/erasures` and `GET /v1/erasures/{id}` (src/node/routes/erasures.ts,
 *   docs/residency.md "Erasure"); `GET /v1/erasures/keys` needs no credential.
 */
import { ErrorCode, MeridianError } from '../errors/mod.js';

export const SCOPES = ['admin', 'send', 'services', 'dlq', 'erase'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

/**
 * `admin,send` (or a list) as scopes: each known, none twice, at least one, in SCOPES order.
 * Throws KEYS_INVALID_SCOPE.
 */
export function parseScopes(input: string | readonly string[]): Scope[] {
  const parts = typeof input === 'string' ? input.split(',').map((s) => s.trim()).filter((s) => s !== '') : input;
  if (parts.length === 0) throw new MeridianError(ErrorCode.KeysInvalidScope, `name at least one scope (${SCOPES.join(', ')})`);
  const seen = new Set<Scope>();
  for (const p of parts) {
    if (!isScope(p)) throw new MeridianError(ErrorCode.KeysInvalidScope, `unknown scope ${JSON.stringify(p.slice(0, 40))} (known: ${SCOPES.join(', ')})`, { details: { scope: p.slice(0, 40) } });
    if (seen.has(p)) throw new MeridianError(ErrorCode.KeysInvalidScope, `scope ${p} given twice`, { details: { scope: p } });
    seen.add(p);
  }
  return SCOPES.filter((s) => seen.has(s));
}
