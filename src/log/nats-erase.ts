/**
 * Erasure by sender for the NATS message log: every entry `from` wrote, in every conversation.
 *
 * JetStream has no index on a header, so this scans the whole log stream once with a
 * headers-only pull consumer (nats-pull.ts; bodies never cross the network), then deletes the matches one
 * by one with secure erase (the server overwrites the bytes on disk). Before deleting, each
 * touched conversation's head is raised to the highest seq the scan saw there: deleting a
 * conversation's last entry must not let its seq be handed out again.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { ApiCode, isApiError } from '../nats/mod.js';
import { subjects, untoken } from '../bus/subjects.js';
import { PullReader } from './nats-pull.js';
import { metaOf } from './nats-store.js';

export interface EraseContext {
  nc: NatsConnection;
  jsm: JetStreamManager;
  stream: string;
  log: string;
  timeoutMs: number;
  raiseHead(conversation: string, seq: number): Promise<void>;
}

const BATCH = 500;

export async function eraseSender(ctx: EraseContext, from: string): Promise<number> {
  const info = await ctx.jsm.streams.info(ctx.stream);
  if (info.state.messages === 0) return 0;
  const end = info.state.last_seq;
  const matches: number[] = [];
  /** Highest seq seen per conversation, and the conversations with a match. */
  const highest = new Map<string, number>();
  const touched = new Set<string>();
  const reader = await PullReader.open(ctx.nc, ctx.jsm, ctx.stream, { filter: subjects.allLog(ctx.log), start: 1, headersOnly: true, timeoutMs: ctx.timeoutMs });
  try {
    // Entries appended after the scan started are not this erasure's business.
    for (let pos = 0; pos < end && !reader.exhausted; ) {
      const batch = await reader.next(BATCH);
      for (const m of batch) {
        pos = m.seq;
        if (m.seq > end) break;
        const meta = metaOf(m.headers);
        const conversation = untoken(m.subject.slice(m.subject.lastIndexOf('.') + 1));
        highest.set(conversation, Math.max(highest.get(conversation) ?? 0, meta.seq));
        if (meta.from === from) {
          matches.push(m.seq);
          touched.add(conversation);
        }
      }
      if (batch.length === 0) break;
    }
  } finally {
    reader.close();
  }
  for (const conversation of touched) await ctx.raiseHead(conversation, highest.get(conversation) ?? 0);
  let erased = 0;
  for (const seq of matches) {
    try {
      if (await ctx.jsm.streams.deleteMessage(ctx.stream, seq, true)) erased++;
    } catch (err) {
      // Retention removed it since the scan: nothing left to erase.
      if (!isApiError(err, ApiCode.NoMessageFound)) throw err;
    }
  }
  return erased;
}
