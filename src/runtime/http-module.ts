/**
 * How a capability adds HTTP endpoints to a region node without the node knowing it: the node's
 * server offers every request to its modules in order (messaging's own first), and the first
 * module that answers `true` owns the response. Services (`/v1/workers`, `/v1/services/…`,
 * `/v1/functions/…`, `/v1/dlq/…`) plug in this way.
 *
 * Contract: `handle` MUST return `false` without touching `res` for paths it does not serve, and
 * MUST answer every request it claims (errors as JSON `{ error: { code, message } }` with the
 * status the capability documents). It MUST NOT throw for bad input.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HttpModule {
  readonly name: string;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): boolean | Promise<boolean>;
  /** Whether this module can serve now; `/ready` answers 503 while any module is not ready. */
  ready?(): boolean;
  /** Stop accepting work and finish what is in flight (drain); called before `close`. */
  drain?(deadlineMs: number): Promise<void>;
  close?(): Promise<void>;
}
