/**
 * `ServiceCaller`: the per-node entry point of the call path. It keeps one `ServicePolicy` per
 * service (created on first use from that service's config, or the defaults) and takes endpoints
 * from an injected source, normally `(name) => registry.endpoints(name)`.
 */
import type { AbortLike } from './abort.js';
import { resolvePolicy } from './config.js';
import type { PolicyConfig } from './config.js';
import type { Random } from './picker.js';
import { ServicePolicy } from './service-policy.js';
import type { AttemptContext, PolicyEndpoint, ResponseLike, ServicePolicySnapshot, ServiceRequest } from './types.js';

export interface ServiceCallerOptions<E extends PolicyEndpoint> {
  /** Endpoints of a service, most preferred first. */
  readonly endpoints: (service: string) => readonly E[];
  /** Per-service overrides; `default` applies to services not listed. */
  readonly services?: Readonly<Record<string, PolicyConfig>>;
  readonly defaults?: PolicyConfig;
  readonly now?: () => number;
  readonly random?: Random;
}

/** Told of every call (metrics and spans, src/observability): `start` returns the completion callback. */
export interface CallObserver {
  start(service: string): (result: { status: number } | { error: unknown }) => void;
}

export class ServiceCaller<E extends PolicyEndpoint = PolicyEndpoint> {
  private readonly policies = new Map<string, ServicePolicy<E>>();
  /** Set once by the runtime that exports metrics; none: calls are not observed. */
  observer: CallObserver | undefined;

  constructor(private readonly opts: ServiceCallerOptions<E>) {
    // Fail at startup on bad config, not on the first request to a service.
    resolvePolicy(opts.defaults, '(defaults)');
    for (const [name, cfg] of Object.entries(opts.services ?? {})) resolvePolicy({ ...opts.defaults, ...cfg }, name);
  }

  invoke<R extends ResponseLike>(service: string, request: ServiceRequest, attempt: (endpoint: E, ctx: AttemptContext) => Promise<R>, signal?: AbortLike, order?: () => readonly E[]): Promise<R> {
    const o = this.observer;
    if (o === undefined) return this.policy(service).invoke(request, attempt, signal, order);
    const done = o.start(service);
    return this.policy(service)
      .invoke(request, attempt, signal, order)
      .then(
        (r) => {
          done({ status: r.status });
          return r;
        },
        (error: unknown) => {
          done({ error });
          throw error;
        },
      );
  }

  /** Whether a policy exists for the service (it has been called before). */
  has(service: string): boolean {
    return this.policies.has(service);
  }

  /** The policy of a service (created with its config on first use). */
  policy(service: string): ServicePolicy<E> {
    let p = this.policies.get(service);
    if (!p) {
      const cfg = { ...this.opts.defaults, ...this.opts.services?.[service] };
      p = new ServicePolicy<E>({
        service,
        policy: resolvePolicy(cfg, service),
        endpoints: () => this.opts.endpoints(service),
        ...(this.opts.now ? { now: this.opts.now } : {}),
        ...(this.opts.random ? { random: this.opts.random } : {}),
      });
      this.policies.set(service, p);
    }
    return p;
  }

  /** Policy state of every service used so far. */
  snapshot(): ServicePolicySnapshot[] {
    return [...this.policies.values()].map((p) => p.snapshot());
  }
}
