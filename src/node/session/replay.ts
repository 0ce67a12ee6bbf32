/**
 * Replays of one session: the offline inbox at auth, `resume` and `retransmit`. Each runs in its
 * conversation's stream (src/node/stream.ts), so live messages wait for it and nothing repeats;
 * a failed replay answers with an error frame (`path`: what failed), never ends the connection.
 */
import { isMeridianError } from '../../errors/mod.js';
import { dmPeer, parseConversation } from '../../protocol/mod.js';
import type { ResumeFrame, RetransmitFrame } from '../../protocol/mod.js';
import { mayReadId, NOT_A_PARTICIPANT } from '../access-rules.js';
import type { Identity } from '../auth.js';
import type { SessionPort } from './port.js';

/** The offline inbox: every direct conversation with messages past the delivered cursor. */
export async function replayInbox(s: SessionPort, id: Identity): Promise<void> {
  try {
    const pending = await s.ctx.messaging.pending(id.user);
    if (s.closed) return;
    for (const p of pending) {
      const c = parseConversation(p.conversation);
      if (!c || dmPeer(c, id.user) === undefined || p.lastSeq <= p.cursor) continue;
      const stream = s.streams.stream(p.conversation);
      stream.run(() => stream.replay({ from: p.cursor + 1, skipSent: true, follow: true })).catch((err: unknown) => s.fail(err, undefined));
    }
  } catch (err) {
    // The client still has resume; an unreachable inbox must not end the connection.
    if (!isMeridianError(err)) s.ctx.onInternalError(err, 'inbox');
  }
}

/** `resume`: each conversation from its position, answered one by one (`positions.<conversation>`). */
export function resume(s: SessionPort, id: Identity, f: ResumeFrame): void {
  const maxIdLength = s.ctx.opts.limits.maxIdLength;
  for (const [conversation, position] of Object.entries(f.positions)) {
    const path = `positions.${conversation}`;
    if (!mayReadId(id, conversation, maxIdLength)) {
      s.error('FORBIDDEN', `${path}: ${NOT_A_PARTICIPANT}`, f.id, { path });
      continue;
    }
    const stream = s.streams.stream(conversation);
    stream.run(() => stream.replay({ from: position + 1, ref: f.id, skipSent: true, path })).catch((err: unknown) => s.fail(err, f.id, path));
  }
}

/** `retransmit`: a range again, including what this connection was already sent. */
export function retransmit(s: SessionPort, id: Identity, f: RetransmitFrame): void {
  if (!mayReadId(id, f.conversation, s.ctx.opts.limits.maxIdLength)) return s.error('FORBIDDEN', `conversation: ${NOT_A_PARTICIPANT}`, f.id, { path: 'conversation' });
  const stream = s.streams.stream(f.conversation);
  const req = f.toSeq === undefined ? { from: f.fromSeq, ref: f.id, skipSent: false, path: 'fromSeq' } : { from: f.fromSeq, to: f.toSeq, ref: f.id, skipSent: false, path: 'fromSeq' };
  stream.run(() => stream.replay(req)).catch((err: unknown) => s.fail(err, f.id));
}
