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
 *
 * In a folder of its own, below the node, services and runtime that use it. In runtime/ it made
 * node/ and runtime/ import each other (runtime assembles the node); src/http/, the HTTP toolkit,
 * is used by the topology and cannot name erasure's types without a cycle of folders.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Caller } from '../keys/caller.js';
import type { ErasureCounts, ErasureSubject } from '../erasure/types.js';

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
