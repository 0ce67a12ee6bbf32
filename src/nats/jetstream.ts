/**
 * The JetStream client and manager every NATS user of Meridian works through, set up one way.
 *
 * Why not `jetstreamManager(nc)` with its defaults: it first probes the account info API
 * (`checkAPI`), which fails while any region is unhealthy (the meta group spans every region), so
 * a bus or log in a healthy region could not even open. Our streams are placed in one region's
 * cluster, which may be another than the one we are connected to, and reached across the gateways:
 * each call succeeds or fails on its own. The timeout bounds every API call, so calls fail fast
 * while a stream's home region is unreachable.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';

export interface JetStreamApi {
  /** Publishes with acks and expectations (`expect.lastSubjectSequence`). */
  readonly js: JetStreamClient;
  /** Streams, consumers and direct message lookups. */
  readonly jsm: JetStreamManager;
}

/** A JetStream client and manager on `nc`, each API call bounded by `timeoutMs`, without the API probe. */
export async function openJetStream(nc: NatsConnection, timeoutMs: number): Promise<JetStreamApi> {
  const opts = { timeout: timeoutMs, checkAPI: false };
  return { js: jetstream(nc, opts), jsm: await jetstreamManager(nc, opts) };
}
