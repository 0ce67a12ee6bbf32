/**
 * What our short-lived consumers share: the KV feed's push consumers (src/bus/nats/feed.ts) and
 * the log's pull readers (src/log/nats-pull.ts) are both ephemeral, ack-none consumers that read
 * each message's stream position from its `$JS.ACK` reply subject and are deleted without waiting.
 *
 * Why parse the reply subject rather than use nats.js's `JsMsg.info`: both read raw core
 * messages on our own subscriptions (to see heartbeats, flow control and status replies as they
 * come), and the reply subject is where the server puts the stream and delivery sequences.
 */
import { nanos } from '@nats-io/transport-node';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { AckPolicy } from '@nats-io/jetstream';
import type { ConsumerConfig, JetStreamManager } from '@nats-io/jetstream';

/**
 * The settings of every ephemeral consumer of ours: no acks (a lost message is noticed by its
 * sequence, not redelivered), in memory with one replica (nothing to keep), and removed by the
 * server 30 s after its last use, so a consumer whose delete was lost (or whose process died)
 * does not stay.
 */
export const EPHEMERAL_CONSUMER = {
  ack_policy: AckPolicy.None,
  inactive_threshold: nanos(30_000),
  mem_storage: true,
  num_replicas: 1,
} as const satisfies Partial<ConsumerConfig>;

/** What a `$JS.ACK` reply subject says about the message it came with. */
export interface AckReply {
  stream: string;
  consumer: string;
  /** Stream sequence of the message. */
  streamSeq: number;
  /** The consumer's delivery sequence: one more per message delivered, a jump means a loss. */
  deliverySeq: number;
  /** When the stream stored it (ms since the epoch, server clock; our clock if unreadable). */
  timestampMs: number;
}

/**
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` (9 tokens), or the
 * 11- or 12-token form with domain and account hash after `$JS.ACK`. Undefined for anything else:
 * flow control, heartbeats and status replies carry no ack reply.
 */
export function parseAckReply(reply: string | undefined): AckReply | undefined {
  if (!reply?.startsWith('$JS.ACK.')) return undefined;
  const t = reply.split('.');
  const base = t.length === 9 ? 5 : t.length >= 11 ? 7 : -1;
  if (base < 0) return undefined;
  const streamSeq = Number(t[base]);
  const deliverySeq = Number(t[base + 1]);
  if (!Number.isSafeInteger(streamSeq) || !Number.isSafeInteger(deliverySeq)) return undefined;
  const ts = t[base + 2] ?? '';
  return {
    stream: t[base - 3] ?? '',
    consumer: t[base - 2] ?? '',
    streamSeq,
    deliverySeq,
    // Nanoseconds since the epoch: beyond 2^53, so divided as a bigint.
    timestampMs: /^\d+$/.test(ts) ? Number(BigInt(ts) / 1_000_000n) : Date.now(),
  };
}

/** Delete a consumer without waiting or failing: `inactive_threshold` removes it anyway. */
export function deleteConsumerQuietly(nc: NatsConnection, jsm: JetStreamManager, stream: string, name: string | undefined): void {
  if (name === undefined || nc.isClosed()) return;
  jsm.consumers.delete(stream, name).catch(() => undefined);
}

/** Unsubscribe, ignoring a connection that is closing under us. */
export function unsubscribeQuietly(sub: Subscription | undefined): void {
  try {
    sub?.unsubscribe();
  } catch {
    // the connection is closing under us
  }
}
