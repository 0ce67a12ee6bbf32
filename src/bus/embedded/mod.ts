/** The embedded bus: all regions in one process over a simulated WAN (see network.ts). */
export { EmbeddedNetwork } from './network.js';
export { EmbeddedBus } from './bus.js';
export type { EmbeddedNetworkOptions, EmbeddedRegion } from './core.js';
