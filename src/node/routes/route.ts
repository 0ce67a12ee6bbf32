/**
 * The shape of the node's HTTP endpoints: each file of routes/ exports one or more `Route`s (a
 * path, the methods it serves, whether it needs the bus, a handler), and routes/mod.ts lists them
 * in the order the router tries them. Handlers get the `RouteContext`: what the node shares with
 * them, built once by server.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErasureService } from '../../erasure/mod.js';
import type { AccessControl } from '../access.js';
import type { BusWatch } from '../bus-watch.js';
import type { NodeContext } from '../context.js';
import type { Lifecycle } from '../lifecycle.js';
import type { NodeState, RegionView } from '../regions.js';

export interface RouteContext {
  /** Options, messaging, presence, auth, metrics, the audit trail (shared with the sessions). */
  readonly node: NodeContext;
  readonly lifecycle: Lifecycle;
  readonly bus: BusWatch;
  readonly view: RegionView;
  /** This node's own state, as the other nodes hear it. */
  readonly self: () => NodeState;
  /** The node's reading of credentials (API keys, the admin token, client tokens). */
  readonly access: AccessControl;
  readonly erasure: ErasureService | undefined;
  /** Drain this node (`RegionNode.drain`). */
  readonly drain: () => Promise<void>;
  /** The runtime's drain-and-restart, when it gave one (RegionNodeOptions.onAdminDrain). */
  readonly onAdminDrain: (() => Promise<void>) | undefined;
}

/** One request as a handler sees it: `params` are the path's captured segments (still encoded). */
export interface RouteRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: readonly string[];
}

export interface Route {
  /** The path: exactly this string, or a pattern whose groups become `params`. */
  readonly path: string | RegExp;
  /**
   * The methods served (list HEAD where GET's answer serves it). Another method is 405 with
   * `Allow` (the list without HEAD), or, with `otherMethods: 'pass'`, not this route's request.
   * Absent: every method reaches the handler.
   */
  readonly methods?: readonly string[];
  readonly otherMethods?: 'refuse' | 'pass';
  /** The 405 message; default `<path> takes <Allow>`. */
  readonly notAllowed?: string;
  /** Served before the rate limit: load balancers, scrapers and browsers poll these. */
  readonly public?: boolean;
  /** Needs the bus: 503 at once while it is down, and 503 should it go down meanwhile. */
  readonly needsBus?: boolean;
  handle(c: RouteContext, r: RouteRequest): void | Promise<void>;
}
