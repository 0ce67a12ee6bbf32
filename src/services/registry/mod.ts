/**
 * The worker registry: one workers bucket per region, merged into every node's local view;
 * registration, heartbeats, eviction, local-first endpoint lookup.
 */
export { Registry } from './registry.js';
export type { RegistryOptions, RegistryStats } from './options.js';
export { registrationProblems, loadProblems } from './validate.js';
export type { Problem, ValidationContext } from './validate.js';
export type {
  Endpoint,
  FunctionInstance,
  FunctionSpec,
  RttSource,
  ServiceSpec,
  ServiceSummary,
  WorkerHealth,
  WorkerLease,
  WorkerLoad,
  WorkerRecord,
  WorkerRegistration,
  WorkerView,
} from './types.js';
