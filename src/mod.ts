/**
 * The `meridian` package entry point: what an application embeds. A named list, no `export *`;
 * the client (`meridian/client`), the worker SDK (`meridian/worker`) and the test utilities
 * (`meridian/testing`) have entry points of their own.
 */
export { ErrorCode, MeridianError, NotAvailableError, isMeridianError } from './errors/mod.js';
export type { MeridianErrorOptions } from './errors/mod.js';
export { defaultTopology, loadTopology, parseTopology, TopologyError, formatProblem } from './topology/mod.js';
export type { Topology, Region, TopologyProblem } from './topology/mod.js';
export { EmbeddedNetwork } from './bus/embedded/mod.js';
export { connectNatsBus } from './bus/nats/mod.js';
export type { Bus, BusMessage, BusStatus, Kv, KvEntry, Subscription } from './bus/types.js';
export { openSqliteLog, openNatsLog } from './log/mod.js';
export type { MessageLog, LogEntry, AppendResult } from './log/mod.js';
export { createMessaging } from './messaging/mod.js';
export type { Messaging, SendInput, SendResult, Delivery, StoredMessage } from './messaging/mod.js';
export { createPresence } from './presence/mod.js';
export type { Presence, PresenceState, PresenceChange } from './presence/mod.js';
export { startRegionNode } from './node/mod.js';
export type { RegionNode, RegionNodeOptions, AuthOptions } from './node/mod.js';
export { startRegion } from './runtime/region.js';
export type { RegionRuntime, StartRegionOptions } from './runtime/region.js';
export { startDeployment, startEmbeddedDeployment } from './runtime/deployment.js';
export type { Deployment, DeploymentOptions } from './runtime/deployment.js';
export type { HttpModule } from './module/http-module.js';
export { startEdge } from './edge/server/mod.js';
