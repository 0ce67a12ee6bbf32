/**
 * The `auth` frame's parts that need nothing of the session's state: who it names, how a refusal
 * is counted, audited and closed, and the `welcome` that answers it. The session core
 * (src/node/session.ts) runs the handshake itself: its state changes while the token is checked.
 */
import { ErrorCode, isMeridianError } from '../../errors/mod.js';
import { CloseCode } from '../../protocol/mod.js';
import type { AuthFrame, WelcomeFrame } from '../../protocol/mod.js';
import type { Identity } from '../auth.js';
import type { NodeContext } from '../context.js';

/** The identity an auth frame proves: a token's, or a dev user's (dev mode only); throws when refused. */
export async function identify(ctx: NodeContext, f: AuthFrame): Promise<Identity> {
  return f.token !== undefined ? await ctx.auth.verify(f.token) : ctx.auth.devIdentity(f.user ?? '', { jurisdiction: f.jurisdiction, country: f.country });
}

/** A refused auth frame: counted, audited (from `from`, never the token), and the close it gets. */
export function refusal(ctx: NodeContext, err: unknown, from: string): { code: number; reason: string } {
  const expired = isMeridianError(err) && err.code === ErrorCode.AuthExpired;
  ctx.metrics.authFailed(expired ? 'expired' : 'invalid', 'ws');
  if (!isMeridianError(err)) ctx.onInternalError(err, 'auth');
  ctx.audit?.record({ actor: { kind: 'anonymous' }, action: 'auth.refused', target: 'websocket', from, outcome: 'refused', status: CloseCode.AUTH_FAILED });
  // A close reason is at most 123 bytes.
  if (isMeridianError(err) && err.code === ErrorCode.AuthResidency) return { code: CloseCode.RESIDENCY_MISMATCH, reason: err.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 120) };
  return { code: CloseCode.AUTH_FAILED, reason: expired ? 'the token has expired' : 'authentication failed' };
}

/** The answer to an accepted auth frame. */
export function welcome(ctx: NodeContext, session: string, identity: Identity, ref: string): WelcomeFrame {
  const { opts } = ctx;
  return {
    type: 'welcome',
    ref,
    protocol: 1,
    region: opts.region,
    node: opts.node,
    session,
    user: identity.user,
    heartbeatMs: opts.heartbeatMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    limits: ctx.welcomeLimits,
    rooms: [...identity.rooms],
    ...(identity.expiresAt === undefined ? {} : { expiresAt: identity.expiresAt }),
  };
}
