/** What every route of the services module needs: built once by `createServicesModule`. */
import type { Topology } from '../../topology/mod.js';
import type { DeadLetterQueue } from '../dlq/mod.js';
import type { FunctionRuntime } from '../functions/runtime.js';
import type { Registry } from '../registry/mod.js';
import type { AuditLog } from '../../audit/mod.js';
import type { EgressPolicy } from '../egress/policy.js';
import type { Limits } from './options.js';
import type { ProxyContext } from './proxy.js';

export interface ModuleContext {
  readonly region: string;
  readonly topology: Topology;
  readonly token: string;
  readonly registry: Registry;
  readonly runtime: FunctionRuntime;
  readonly dlq: DeadLetterQueue;
  readonly proxy: ProxyContext;
  readonly limits: Limits;
  readonly retryAfterS: number;
  /** Where worker URLs may point (checked at registration and at connect time). */
  readonly egress: EgressPolicy;
  readonly audit?: AuditLog | undefined;
}
