/** Options and handles of the worker SDK (`meridian/worker`). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CloudEvent } from 'cloudevents';
import type { ServicesModule } from '../services/mod.js';

/** A plain node:http handler (a returned promise is awaited); `req.url` is the path below the service. */
export type ServiceHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * A CloudEvents function. Return a `CloudEvent` to answer with it, any other value to answer
 * with a CloudEvent carrying it as data (type `<request type>.result`), or nothing for no event
 * (204). Throwing answers 500: the invocation failed (async invocations are retried, then DLQ).
 */
export type FunctionHandler = (event: CloudEvent<unknown>) => unknown;

export type ServiceEntry =
  | ServiceHandler
  | { readonly handler: ServiceHandler; readonly weight?: number; readonly meta?: Readonly<Record<string, string>> }
  /** A service this process does not serve itself: registered as-is. */
  | { readonly url: string; readonly weight?: number; readonly meta?: Readonly<Record<string, string>> };

export interface ServeOptions {
  /**
   * The region node: its base URL (`http://host:port`); or several, its own region's node first
   * and then fallbacks (e.g. by distance); or a `ServicesModule` to run in its process.
   *
   * With several URLs, registration, heartbeats and deregistration go to the node in use (the
   * first, to begin with) and fail over to the next when a call fails, times out or answers 5xx
   * (503: that node's region bus is down). While a fallback is in use every heartbeat is offered
   * to the first node too, and the worker moves back to it as soon as it answers. The worker
   * keeps its `region` whichever node takes its heartbeats, so callers still reach it by RTT
   * from its real location; its URLs must be reachable from every region node.
   */
  readonly node: string | readonly string[] | ServicesModule;
  /** The registration token (`workerToken` of `meridian up --json`); required with a URL. */
  readonly token?: string;
  /** Worker id, unique in the fleet. Default `<host>-<pid>-<random>`. */
  readonly id?: string;
  /**
   * Region the worker runs in. Default: the node's region. Required with several node URLs (a
   * fallback node would otherwise register the worker in its own region).
   */
  readonly region?: string;
  /**
   * Longest wait for a node's answer before the call fails over to the next node. Default
   * 10 000 ms; heartbeats wait at most one heartbeat interval.
   */
  readonly requestTimeoutMs?: number;
  readonly services?: Readonly<Record<string, ServiceEntry>>;
  readonly functions?: Readonly<Record<string, FunctionHandler>>;
  /** Interface the worker's HTTP server binds. Default 127.0.0.1. */
  readonly host?: string;
  /** Port of the worker's HTTP server. Default 0 (any free port). */
  readonly port?: number;
  /** Base URL region nodes use to reach this worker. Default `http://<host>:<port>`. */
  readonly advertiseUrl?: string;
  /** How long `close()` (and SIGTERM) waits for in-flight requests. Default 10 000 ms. */
  readonly drainTimeoutMs?: number;
  /** Deregister, drain and exit on SIGTERM and SIGINT. Default true. */
  readonly handleSignals?: boolean;
  /** Extra gauges sent with every heartbeat. */
  readonly metrics?: () => Readonly<Record<string, number>>;
  /**
   * Background failures: a heartbeat that no node took (`NodesUnavailableError`, listing each
   * node's failure) or a registration again that failed. Default: ignored, retried next interval.
   */
  readonly onError?: (err: unknown) => void;
}

export interface Worker {
  readonly id: string;
  readonly region: string;
  /** The worker's own HTTP base URL (undefined when it serves nothing over HTTP). */
  readonly url: string | undefined;
  readonly heartbeatIntervalMs: number;
  /** Base URL of the region node taking this worker's heartbeats now; undefined in-process. */
  readonly node: string | undefined;
  /** Requests being served right now (what heartbeats report). */
  readonly inFlight: number;
  /** Deregister, stop accepting, wait for in-flight requests, close. Idempotent. */
  close(): Promise<void>;
}
