/** Deployment planning (`meridian plan`): the orchestrator, its writer and the shared types. */
export { planDeployment, parseTargets, PlanError, pathText } from './plan.js';
export type { Plan, PlanOptions, SkippedTarget } from './plan.js';
export { writePlanFiles, assertWritable, MANIFEST } from './write.js';
export { planSecrets } from './secrets.js';
export { allocateLocalPorts } from './local.js';
export type { LocalPortMap } from './local.js';
export { inventory, natsServersIn } from './inventory.js';
export { PLAN_TARGETS } from './types.js';
export type { Generator, Inventory, LocalPorts, PlanContext, PlanHost, PlannedFile, PlanProblem, PlanTarget, RegionPlan, Secrets } from './types.js';
