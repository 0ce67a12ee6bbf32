/**
 * Heartbeats on the current connection: one every `heartbeatMs` (the server's idle timeout and
 * proxies with idle limits need traffic), and the dead-connection rule of the protocol: nothing
 * at all received for 2 × heartbeatMs means the connection is gone even if no close came (a
 * half-open TCP connection, a silent proxy). Then the connection is abandoned, not closed
 * politely: no closing handshake can complete on a dead link.
 */
import type { ClientFrame } from '../protocol/mod.js';
import type { Clock } from './clock.js';

/** What a heartbeat needs of a connection (Connection has it). */
export interface HeartbeatTarget {
  readonly isOpen: boolean;
  /** When anything at all was last received. */
  readonly lastReceivedAt: number;
  write(frame: ClientFrame): boolean;
  abandon(reason: string): void;
}

export class Heartbeat {
  private timer: unknown;
  private pending = { id: '', sentAt: 0 };
  /** Round trip of the last answered heartbeat. */
  rttMs: number | undefined;
  answered = 0;

  constructor(
    private readonly clock: Clock,
    private readonly nextId: (prefix: string) => string,
  ) {}

  start(conn: HeartbeatTarget, heartbeatMs: number): void {
    this.stop();
    let lastSent = this.clock.now();
    const tick = (): void => {
      if (!conn.isOpen) return;
      const now = this.clock.now();
      const deadline = conn.lastReceivedAt + 2 * heartbeatMs;
      if (now >= deadline) {
        conn.abandon('heartbeat timeout');
        return;
      }
      if (now - lastSent >= heartbeatMs) {
        lastSent = now;
        this.pending = { id: this.nextId('h'), sentAt: now };
        conn.write({ type: 'heartbeat', id: this.pending.id, ts: now });
      }
      // Wake for the next heartbeat or the deadline, whichever comes first.
      this.timer = this.clock.setTimeout(tick, Math.max(1, Math.min(lastSent + heartbeatMs, deadline) - now));
    };
    this.timer = this.clock.setTimeout(tick, heartbeatMs);
  }

  /** A `heartbeat` answer arrived. */
  pong(ref: string | undefined): void {
    if (ref === undefined || ref !== this.pending.id) return;
    this.rttMs = this.clock.now() - this.pending.sentAt;
    this.answered += 1;
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
