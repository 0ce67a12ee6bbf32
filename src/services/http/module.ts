/**
 * The services module a region node mounts (`HttpModule`): `/v1/workers`, `/v1/services`,
 * `/v1/functions`, `/v1/invocations`, `/v1/dlq`. It owns this node's registry view, the call
 * policies of services and functions, the function runtime and the DLQ; `attachInProcess` lets
 * the worker SDK run functions inside the node's process.
 */
import type { Agent as HttpAgent } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { Agent as UndiciAgent } from 'undici';
import { join } from 'node:path';
import { actorOf } from '../../audit/mod.js';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { linkLatencyMs } from '../../topology/mod.js';
import type { FunctionDecl } from '../../topology/mod.js';
import { KvDeadLetterQueue, SqliteDeadLetterQueue } from '../dlq/mod.js';
import type { DeadLetterQueue } from '../dlq/mod.js';
import { LocalFunctionHost } from '../functions/local.js';
import type { LocalHandler } from '../functions/local.js';
import { FunctionRuntime } from '../functions/runtime.js';
import type { PolicyConfig } from '../policy/mod.js';
import { ServiceCaller } from '../policy/mod.js';
import { Registry } from '../registry/mod.js';
import type { Endpoint, ServiceSpec, WorkerLease } from '../registry/mod.js';
import type { ModuleContext } from './context.js';
import { decodePart } from '../../http/body.js';
import { checkModuleOptions } from './options.js';
import type { ServicesModuleOptions } from './options.js';
import { sendServiceFailure } from './failure.js';
import { dlqRoute } from './routes-dlq.js';
import { eraseUserFromServices } from '../erase.js';
import type { ErasureCounts, ErasureSubject } from '../../erasure/types.js';
import { functionsRoute, invocationsRoute } from './routes-functions.js';
import { servicesRoute } from './routes-services.js';
import { workersRoute } from './routes-workers.js';
import type { Caller } from '../../keys/caller.js';
import type { HttpModule, RequestInfo } from '../../module/http-module.js';
import { authorize, need } from './access.js';
import { EgressPolicy } from '../egress/policy.js';
import { egressAgents } from '../egress/agents.js';
import { clientAddress } from '../../http/client-address.js';

const PREFIXES = ['workers', 'services', 'functions', 'invocations', 'dlq'] as const;

/** An in-process worker attached to this node (worker SDK, in-process mode). */
export interface InProcessWorker {
  readonly id: string;
  readonly lease: WorkerLease;
  /** Stop answering and remove the registration. */
  detach(): Promise<void>;
}

export class ServicesModule implements HttpModule {
  readonly name = 'services';
  readonly region: string;
  readonly registry: Registry;
  readonly services: ServiceCaller<Endpoint>;
  readonly functions: FunctionRuntime;
  readonly dlq: DeadLetterQueue;
  private readonly ctx: ModuleContext;
  private readonly local: LocalFunctionHost;
  private readonly agents: { http: HttpAgent; https: HttpsAgent; undici: UndiciAgent };
  private readonly attached = new Map<string, { timer: NodeJS.Timeout; detach: () => Promise<void> }>();
  private readonly ownsDlq: boolean;
  private inFlight = 0;
  private draining = false;
  private closed = false;

  /** Use `createServicesModule`. */
  constructor(
    private readonly opts: ServicesModuleOptions,
    parts: { region: string; registry: Registry; dlq: DeadLetterQueue; ownsDlq: boolean; limits: ModuleContext['limits'] },
  ) {
    this.region = parts.region;
    this.registry = parts.registry;
    this.dlq = parts.dlq;
    this.ownsDlq = parts.ownsDlq;
    // Every connection to a worker resolves its name through the egress policy (rebinding-proof),
    // with the port it connects to, so a name that resolves to a node's own listener is refused.
    const egress = new EgressPolicy({ ...(opts.egress ?? opts.topology.egress), region: parts.region, ...(opts.listeners === undefined ? {} : { listeners: opts.listeners }) });
    this.agents = egressAgents(egress);
    this.local = new LocalFunctionHost(opts.bus);
    const topo = opts.topology;
    const servicePolicies: Record<string, PolicyConfig> = {};
    for (const [name, decl] of Object.entries(topo.services ?? {})) if (decl.policy) servicePolicies[name] = decl.policy;
    this.services = new ServiceCaller<Endpoint>({
      endpoints: (name) => this.registry.endpoints(name),
      defaults: opts.policy?.defaults,
      services: { ...servicePolicies, ...opts.policy?.services },
    });
    const catalogue = new Map<string, FunctionDecl>(Object.entries(topo.functions ?? {}));
    this.functions = new FunctionRuntime({
      registry: this.registry,
      region: this.region,
      catalogue,
      defaults: opts.policy?.defaults,
      policies: opts.policy?.functions,
      dlq: this.dlq,
      transport: {
        bus: opts.bus,
        http: this.agents.http,
        https: this.agents.https,
        maxResponseBytes: parts.limits.maxEventBytes,
        egress,
        timeoutMs: (fn) => this.functions.caller.policy(fn).policy.timeoutMs,
      },
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
    const retryAfterS = opts.retryAfterS ?? 1;
    this.ctx = {
      region: this.region,
      topology: topo,
      token: opts.registrationToken,
      registry: this.registry,
      runtime: this.functions,
      dlq: this.dlq,
      limits: parts.limits,
      retryAfterS,
      egress,
      audit: opts.audit,
      proxy: {
        region: this.region,
        registry: this.registry,
        caller: this.services,
        agents: this.agents,
        maxBodyBytes: parts.limits.maxBodyBytes,
        retryBufferBytes: parts.limits.retryBufferBytes,
        retryAfterS,
        declared: new Set(Object.keys(topo.services ?? {})),
        egress,
      },
    };
  }

  handle(req: IncomingMessage, res: ServerResponse, url: URL, request: RequestInfo): boolean | Promise<boolean> {
    const parts = url.pathname.split('/');
    // ['', 'v1', '<prefix>', ...]
    if (parts[1] !== 'v1' || !(PREFIXES as readonly string[]).includes(parts[2] ?? '')) return false;
    const rest = parts.slice(3);
    if (rest[rest.length - 1] === '' && parts[2] !== 'services') rest.pop();
    if (parts[2] === 'services' && rest.length === 1 && rest[0] === '') rest.pop();
    return this.serve(req, res, url, parts[2] as (typeof PREFIXES)[number], rest, request).then(() => true);
  }

  ready(): boolean {
    return !this.draining && !this.closed;
  }

  /**
   * Stop accepting proxied calls and invocations; wait for those in flight. `deadlineMs` is a
   * duration, or an epoch deadline when it is larger than 1e12 (either reading of the contract).
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    const until = deadlineMs > 1e12 ? deadlineMs : Date.now() + deadlineMs;
    await this.functions.drain(until);
    while (this.inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    await Promise.allSettled([...this.attached.values()].map((a) => a.detach()));
    this.local.close();
    await this.registry.close();
    if (this.ownsDlq) await this.dlq.close();
    this.agents.http.destroy();
    this.agents.https.destroy();
    await this.agents.undici.destroy();
  }

  /** Erasure (src/erasure): the dead letters and invocation records that carry the user (services/erase.ts). */
  async eraseSubject(subject: ErasureSubject): Promise<Partial<ErasureCounts>> {
    if (!('user' in subject)) return {};
    return eraseUserFromServices(this.dlq, this.functions.invocations, subject.user);
  }

  /**
   * Run functions inside this node's process: registered in this region's workers bucket (this
   * region, no URL), seen by every region and reached over the bus. Heartbeats come from this node.
   */
  async attachInProcess(spec: { id: string; functions: ReadonlyMap<string, LocalHandler>; services?: readonly ServiceSpec[] }): Promise<InProcessWorker> {
    if (this.closed) throw new MeridianError(ErrorCode.BusClosed, 'the services module is closed');
    this.local.attach(spec.id, spec.functions);
    let lease: WorkerLease;
    try {
      lease = await this.registry.register({ id: spec.id, region: this.region, services: spec.services ?? [], functions: [...spec.functions.keys()].map((name) => ({ name })) });
    } catch (err) {
      this.local.detach(spec.id);
      throw err;
    }
    const beat = (): void => {
      this.registry.heartbeat(spec.id, { inFlight: this.local.load }).catch((err: unknown) => this.opts.onError?.(err));
    };
    const timer = setInterval(beat, lease.heartbeatIntervalMs);
    timer.unref();
    const detach = async (): Promise<void> => {
      if (!this.attached.delete(spec.id)) return;
      clearInterval(timer);
      this.local.detach(spec.id);
      await this.registry.deregister(spec.id);
    };
    this.attached.set(spec.id, { timer, detach });
    return { id: spec.id, lease, detach };
  }

  private async serve(req: IncomingMessage, res: ServerResponse, url: URL, prefix: (typeof PREFIXES)[number], parts: string[], request: RequestInfo): Promise<void> {
    this.inFlight++;
    // Kept for the audit of a refusal: who was refused (user id, key id), not just that someone was.
    let caller: Caller = { kind: 'anonymous' };
    try {
      const required = need(prefix, req.method ?? 'GET', parts, decodePart);
      if (required.kind !== 'worker') caller = await request.caller();
      authorize(caller, required);
      const work = prefix === 'services' && parts.length > 1 && !(parts.length === 2 && parts[1] === 'endpoints' && req.method === 'GET');
      if (this.draining && (work || (prefix === 'functions' && req.method === 'POST'))) {
        throw new MeridianError(ErrorCode.SvcOverloaded, 'this region node is draining: retry on another node', { details: { region: this.region } });
      }
      if (prefix === 'workers') await workersRoute(this.ctx, req, res, parts.map(decodePart));
      else if (prefix === 'services') await servicesRoute(this.ctx, req, res, url, parts);
      else if (prefix === 'functions') await functionsRoute(this.ctx, req, res, parts);
      else if (prefix === 'invocations') invocationsRoute(this.ctx, req, res, parts.map(decodePart), caller);
      else await dlqRoute(this.ctx, req, res, url, parts.map(decodePart), caller);
    } catch (err) {
      if (err instanceof MeridianError && (err.code === ErrorCode.SvcUnauthorized || err.code === ErrorCode.SvcForbidden)) {
        this.ctx.audit?.record({ actor: actorOf(caller), action: `${prefix}.access`, target: url.pathname.slice(0, 200), from: clientAddress(req), outcome: 'refused', status: err.code === ErrorCode.SvcUnauthorized ? 401 : 403 });
      }
      if (!res.headersSent && !res.destroyed) {
        // A refused upload: answer, then close, rather than reading the rest of a huge body.
        if (isTooLarge(err)) res.setHeader('connection', 'close');
        sendServiceFailure(res, err, this.ctx.retryAfterS, { 'x-meridian-via': this.region });
      } else if (!res.writableEnded) res.destroy();
    } finally {
      this.inFlight--;
    }
  }
}

const isTooLarge = (err: unknown): boolean => err instanceof MeridianError && err.code === ErrorCode.SvcBodyTooLarge;


/** Open the registry and the DLQ, then build the module. */
export async function createServicesModule(opts: ServicesModuleOptions): Promise<ServicesModule> {
  const { region, limits } = checkModuleOptions(opts);
  const topo = opts.topology;
  const registry = await Registry.open({
    ...opts.registry,
    bus: opts.bus,
    rtt: opts.rtt ?? ((a, b) => linkLatencyMs(topo, a, b)),
    regions: topo.regions.map((r) => r.name),
    ...(topo.functions ? { functions: Object.keys(topo.functions) } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  let dlq: DeadLetterQueue;
  let ownsDlq = true;
  try {
    const kind = opts.dlq ?? (opts.dataDir !== undefined ? 'sqlite' : 'kv');
    if (typeof kind === 'object') {
      dlq = kind;
      ownsDlq = false;
    } else if (kind === 'sqlite') dlq = new SqliteDeadLetterQueue(opts.dataDir === ':memory:' ? ':memory:' : join(opts.dataDir!, `services-dlq-${region}.sqlite`));
    else dlq = await KvDeadLetterQueue.open({ bus: opts.bus, region });
  } catch (err) {
    await registry.close();
    throw err;
  }
  return new ServicesModule(opts, { region, registry, dlq, ownsDlq, limits });
}
