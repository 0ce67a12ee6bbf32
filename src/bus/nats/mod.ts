/**
 * The NATS bus: `Bus` on a NATS super-cluster (one cluster per region, joined by gateways),
 * with KV on JetStream. Entry point of src/bus/nats.
 */
export { connectNatsBus, NatsBus } from './bus.js';
export type { NatsBusOptions } from './bus.js';
// The error mapping lives in the NATS adapter (src/nats), shared with the log; kept here too,
// where the bus's users have always found it.
export { mapNatsError } from '../../nats/mod.js';
export type { ErrorContext } from '../../nats/mod.js';
