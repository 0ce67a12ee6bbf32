/**
 * The NATS/JetStream adapter: what every NATS user in Meridian (the bus, src/bus/nats; the
 * message log, src/log/nats-*.ts) needs from nats.js beyond calling it.
 *
 * Why a module of its own: each user had grown its own copy. The meta group's "temporarily
 * unavailable" (API code 10008) was defined twice with two retries, the `$JS.ACK` reply subject
 * parsed twice, the ephemeral consumer settings and the JetStream manager setup written twice,
 * and the log reached into the bus for the error mapping. Here each is written once:
 * - errors.ts: the API codes we react to, recognising a failure, mapping it to BUS_* / KV_*;
 * - retry.ts: retrying what passes on its own (a meta-leader election, no responders yet);
 * - jetstream.ts: the client and manager, without the account probe;
 * - streams.ts: create-or-update, per-subject lookups;
 * - consumers.ts: ephemeral consumer settings, ack reply parsing, quiet deletes.
 * What a user builds on these (the KV feed, the log's seq scheme) stays with the user.
 */
export { ApiCode, apiErrorOf, isApiError, isNoResponders, isTemporarilyUnavailable, isWrongLastSequence, mapNatsError } from './errors.js';
export type { ErrorContext } from './errors.js';
export { META_LEADER_PAUSES_MS, retrying, whenMetaLeader } from './retry.js';
export { openJetStream } from './jetstream.js';
export type { JetStreamApi } from './jetstream.js';
export { ensureStream, getLast, getNext } from './streams.js';
export type { StreamSpec } from './streams.js';
export { EPHEMERAL_CONSUMER, deleteConsumerQuietly, parseAckReply, unsubscribeQuietly } from './consumers.js';
export type { AckReply } from './consumers.js';
