/** Resilience policies of service calls: retries with a budget, breakers, ejection, bulkhead, P2C. */
export { ServiceCaller } from './caller.js';
export type { ServiceCallerOptions } from './caller.js';
export { ServicePolicy } from './service-policy.js';
export type { ServicePolicyOptions } from './service-policy.js';
export { DEFAULT_POLICY, resolvePolicy } from './config.js';
export type { BreakerConfig, PolicyConfig, ResolvedPolicy } from './config.js';
export { RetryBudget } from './budget.js';
export type { RetryBudgetConfig, RetryBudgetSnapshot } from './budget.js';
export { OutlierDetector } from './outlier.js';
export type { EjectionSnapshot } from './outlier.js';
export { EndpointBreakers } from './breakers.js';
export type { BreakerState } from './breakers.js';
export { pickP2C, seededRandom } from './picker.js';
export type { Pickable, Random } from './picker.js';
export { isIdempotent, isUndelivered } from './types.js';
export type { AttemptContext, EndpointPolicyState, PolicyEndpoint, ResponseLike, ServicePolicySnapshot, ServiceRequest } from './types.js';
