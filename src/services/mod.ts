/** Services: the global worker registry, call policies, the HTTP module (proxy, functions, DLQ) a region node mounts. */
export { Registry, loadProblems, registrationProblems } from './registry/mod.js';
export type {
  Endpoint,
  FunctionInstance,
  FunctionSpec,
  Problem,
  RegistryOptions,
  RegistryStats,
  RttSource,
  ServiceSpec,
  ServiceSummary,
  ValidationContext,
  WorkerHealth,
  WorkerLease,
  WorkerLoad,
  WorkerRecord,
  WorkerRegistration,
  WorkerView,
} from './registry/mod.js';
export {
  DEFAULT_POLICY,
  EndpointBreakers,
  OutlierDetector,
  RetryBudget,
  ServiceCaller,
  ServicePolicy,
  isIdempotent,
  isUndelivered,
  pickP2C,
  resolvePolicy,
  seededRandom,
} from './policy/mod.js';
export type {
  AttemptContext,
  BreakerConfig,
  BreakerState,
  EjectionSnapshot,
  EndpointPolicyState,
  Pickable,
  PolicyConfig,
  PolicyEndpoint,
  Random,
  ResolvedPolicy,
  ResponseLike,
  RetryBudgetConfig,
  RetryBudgetSnapshot,
  ServiceCallerOptions,
  ServicePolicyOptions,
  ServicePolicySnapshot,
  ServiceRequest,
} from './policy/mod.js';
export { ServicesModule, createServicesModule } from './http/module.js';
export type { InProcessWorker } from './http/module.js';
export type { ServicesModuleOptions } from './http/options.js';
export { generateWorkerToken } from './http/auth.js';
export { KvDeadLetterQueue, SqliteDeadLetterQueue } from './dlq/mod.js';
export type { AttemptRecord, DeadLetter, DeadLetterQueue, KvDlqOptions, ListOptions, NewDeadLetter } from './dlq/mod.js';
export { parseHttpEvent, toBinary, toStructured } from './functions/event.js';
export type { ContentMode, WireEvent } from './functions/event.js';
export type { LocalHandler } from './functions/local.js';
export type { FnResponse } from './functions/transport.js';
export type { RoutingStrategy } from './functions/routing.js';
export { affinity as affinityOrder, hash32 } from './functions/routing.js';
export type { Invocation, InvocationStatus } from './functions/invocations.js';
export { EgressPolicy } from './egress/policy.js';
export type { EgressOptions, EgressVerdict } from './egress/policy.js';
