/** The edge server: steering endpoint, HTTP and WebSocket proxy, health monitoring. */
export { startEdge } from './server.js';
export type { Edge } from './server.js';
export { checkRegionUrls, parseRegionList, DEFAULT_EDGE_PORT, DEFAULT_RATE_LIMIT, DEFAULT_AFFINITY_COOKIE, DEFAULT_AFFINITY_TTL_S } from './options.js';
export type { EdgeOptions, CorsOptions, RateLimitOptions, AffinityOptions, RegionHook } from './options.js';
export { RateLimiter } from '../../http/rate-limit.js';
export type { Admission } from '../../http/rate-limit.js';
export { RegionLoad } from './load.js';
export { openEdgeAuditLog, edgeAuditFile, EDGE_AUDIT_REGION } from './audit.js';
