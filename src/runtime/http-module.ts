/**
 * How a capability adds HTTP endpoints to a region node without the node knowing it: the node's
 * server offers every request to its modules in order (messaging's own first), and the first
 * module that answers `true` owns the response. Services (`/v1/workers`, `/v1/services/…`,
 * `/v1/functions/…`, `/v1/dlq/…`) plug in this way.
 *
 * Contract: `handle` MUST return `false` without touching `res` for paths it does not serve, and
 * MUST answer every request it claims (errors as JSON `{ error: { code, message } }` with the
 * status the capability documents). It MUST NOT throw for bad input. It MUST decide access from
 * `request.caller()` (the node's one reading of the `Authorization` header), never by parsing
 * credentials of its own, except the worker registration token, which only workers hold.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Scope } from '../keys/scopes.js';
import type { ErasureCounts, ErasureSubject } from '../erasure/types.js';

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

export interface RequestInfo {
  /** The caller, verified on first use (a JWT check is not free); the same answer every call. */
  caller(): Promise<Caller>;
}

export interface HttpModule {
  readonly name: string;
  handle(req: IncomingMessage, res: ServerResponse, url: URL, request: RequestInfo): boolean | Promise<boolean>;
  /** Whether this module can serve now; `/ready` answers 503 while any module is not ready. */
  ready?(): boolean;
  /** Stop accepting work and finish what is in flight (drain); called before `close`. */
  drain?(deadlineMs: number): Promise<void>;
  close?(): Promise<void>;
  /** Erase what this module keeps about the subject (src/erasure): modules that store user data implement it. */
  eraseSubject?(subject: ErasureSubject): Promise<Partial<ErasureCounts>>;
}
