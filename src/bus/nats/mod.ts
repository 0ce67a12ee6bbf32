/**
 * The NATS bus: `Bus` on a NATS super-cluster (one cluster per region, joined by gateways),
 * with KV on JetStream. Entry point of src/bus/nats.
 */
export { connectNatsBus, NatsBus } from './bus.js';
export type { NatsBusOptions } from './bus.js';
export { mapNatsError } from './errors.js';
export type { ErrorContext } from './errors.js';
