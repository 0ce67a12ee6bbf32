/**
 * Names and labels of the Kubernetes objects, in one place so every manifest agrees: objects are
 * named per region (`meridian-<region>`, `nats-<region>`), so one cluster may also hold several
 * regions (staging), and carry the recommended `app.kubernetes.io/*` labels plus
 * `meridian.dev/region`. Selectors use name + instance only (labels that never change).
 */
import { NODE_DEFAULTS } from '../../node/options.js';
import type { Topology } from '../../topology/mod.js';

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

export type Component = 'region-node' | 'nats';

export const nodeName = (region: string): string => `meridian-${region}`;
export const natsName = (region: string): string => `nats-${region}`;

/** Container port of the region node inside the pod (the Service maps 80 onto it). */
export const NODE_CONTAINER_PORT = 8080;
/**
 * `meridian region`'s drain deadline in whole seconds: the node's own default
 * (`NODE_DEFAULTS.drainDeadlineMs`, which the manifests do not override), so the grace period
 * follows it if it changes. Clients get this long to migrate.
 */
export const DRAIN_DEADLINE_S = Math.ceil(NODE_DEFAULTS.drainDeadlineMs / 1000);
/** preStop pause: the endpoints controller and load balancers stop sending new clients first. */
export const PRE_STOP_S = 5;
/** Grace above preStop + drain, so the kubelet never SIGKILLs a node that is still draining. */
export const TERMINATION_GRACE_S = PRE_STOP_S + DRAIN_DEADLINE_S + 10;

export function selector(component: Component, region: string): Record<string, string> {
  return { 'app.kubernetes.io/name': component === 'nats' ? 'nats' : 'meridian', 'app.kubernetes.io/instance': component === 'nats' ? natsName(region) : nodeName(region) };
}

export function labels(component: Component, region: string): Record<string, string> {
  return {
    ...selector(component, region),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'meridian',
    'app.kubernetes.io/managed-by': 'meridian-plan',
    'meridian.dev/region': region,
  };
}

export function metadata(topology: Topology, name: string, component: Component, region: string): Manifest['metadata'] {
  return { name, namespace: topology.deploy.kubernetes.namespace, labels: labels(component, region) };
}
