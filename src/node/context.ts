/** What every session of a node shares: options, the capabilities it calls, and node-wide state. */
import type { Messaging } from '../messaging/types.js';
import type { NodeMetrics } from '../observability/metrics.js';
import type { Presence } from '../presence/types.js';
import type { WelcomeLimits } from '../protocol/mod.js';
import type { Authenticator } from './auth.js';
import type { ResolvedNodeOptions } from './options.js';
import type { PresenceHub } from './presence-hub.js';
import type { AuditLog } from '../audit/mod.js';

export interface SessionRef {
  readonly id: string;
  /** The authenticated user (undefined before auth). */
  readonly user: string | undefined;
  /** Send `migrate` (`drain`, or `region_unavailable` when the node lost its bus). */
  migrate(frame: { reason: 'drain' | 'region_unavailable' | 'residency'; suggestedRegion: string; url: string; deadlineMs: number }): void;
  /** Close with a code of ours (4500 …); the socket is destroyed if the client does not answer. */
  close(code: number, reason: string): void;
  /** Destroy the socket at once (region taken down). */
  destroy(): void;
  /** Idle, auth and token-expiry checks, called by the node's sweep. */
  sweep(now: number, wall: number): void;
}

export interface NodeContext {
  readonly opts: ResolvedNodeOptions;
  readonly messaging: Messaging;
  readonly presence: Presence;
  readonly auth: Authenticator;
  readonly hub: PresenceHub;
  readonly welcomeLimits: WelcomeLimits;
  readonly sessions: Set<SessionRef>;
  /** Unexpected failures (bugs): logged, never thrown at the socket. */
  readonly onInternalError: (err: unknown, where: string) => void;
  /** Counters and the node's log (src/observability): frames, auth failures, slow consumers. */
  readonly metrics: NodeMetrics;
  /** Admin actions and refused credentials (absent: not recorded). */
  readonly audit?: AuditLog | undefined;
  /**
   * Where a user whose strict residency rule excludes this region should be served: the nearest
   * healthy region the rule allows; undefined when this region may serve them (or none can).
   */
  readonly residencyTarget?: (user: string) => Promise<{ region: string; url: string } | undefined>;
}
