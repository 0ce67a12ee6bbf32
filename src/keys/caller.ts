/**
 * Who is calling: the one reading of a request's credential (an API key, the deprecated admin
 * token, a client JWT, or none) that every surface decides access from. The region node
 * establishes it (src/node/access.ts); HTTP modules receive it (`RequestInfo.caller()`,
 * src/module/http-module.ts) and the audit trail names it (src/audit/actor.ts).
 *
 * Not with the module contract: the audit trail needs it too, and the contract sits above the
 * audit (it names erasure's types, and erasure writes audit entries), so a Caller there would
 * make the audit and the contract's folders import each other.
 */
import type { Scope } from './scopes.js';

/** What a client token allows beyond messaging: service and function name patterns (claims). */
export type CallKind = 'service' | 'function';

/**
 * Who is calling, as the node established it (docs/services.md, "Credentials"):
 * - `admin`: the deprecated operator token (`--admin-token`): every endpoint, as a key with every scope;
 * - `key`: an API key from the keys file (src/keys): what its scopes allow (`id` names it in logs);
 * - `user`: a valid client JWT: the services and functions its `services` / `functions` claims name;
 * - `dev`: no credential on a dev-mode node: client-facing endpoints only;
 * - `anonymous`: no credential on a production node: nothing;
 * - `invalid`: a credential that did not verify (401, never treated as anonymous); `keyId` when it
 *   was an unknown, revoked or expired API key (for the audit, never the key itself).
 */
export type Caller =
  | { readonly kind: 'admin' }
  | { readonly kind: 'key'; readonly id: string; readonly scopes: ReadonlySet<Scope> }
  | { readonly kind: 'user'; readonly user: string; readonly mayCall: (kind: CallKind, name: string) => boolean }
  | { readonly kind: 'dev' }
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'invalid'; readonly reason: string; readonly keyId?: string };
