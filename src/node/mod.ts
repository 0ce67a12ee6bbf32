/**
 * The region node: the WebSocket protocol of docs/protocol.md at `/ws`, the HTTP API under
 * `/v1`, health and readiness, drain, and the demo page. Entry point of src/node.
 */
export { startRegionNode } from './server.js';
export type { RegionNode } from './server.js';
export { NODE_DEFAULTS } from './options.js';
export type { AuthOptions, NodeLimits, OutboundLimits, RateLimit, RegionNodeOptions } from './options.js';
export { roomMatcher } from './auth.js';
