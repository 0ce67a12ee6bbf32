/**
 * `meridian/testing`: helpers for tests that need real infrastructure. Real nats-server
 * processes (one server, or a super-cluster with one server per region), and a TCP proxy that
 * adds WAN latency and partitions on loopback. Nothing here is used by the runtime itself.
 */
export { TcpProxy, startTcpProxy } from './tcp-proxy.js';
export { tapBus } from './bus-tap.js';
export type { TapDirection, TapListener } from './bus-tap.js';
export type { TcpProxyOptions } from './tcp-proxy.js';
export { freePort, freePorts } from './ports.js';
export {
  NATS_SERVER_INSTALL_HINT,
  NatsServerProcess,
  findNatsServer,
  requireNatsServer,
  startNatsServer,
} from './nats-server.js';
export type { NatsServer, NatsServerOptions, NatsServerProcessOptions } from './nats-server.js';
export { renderNatsConfig } from './nats-config.js';
export type { NatsGatewayRemote, NatsServerSpec } from './nats-config.js';
export { SuperCluster, startSuperCluster } from './super-cluster.js';
export { gatewayConnectName } from './gateway-checks.js';
export type { SuperClusterOptions } from './super-cluster.js';
export { GiveUpError, fetchMonitor, isHealthy, parseGoDurationMs, waitUntil } from './monitor.js';
export type { GatewayConnection, Gatewayz, Jsz, WaitOptions } from './monitor.js';
