/**
 * The function runtime of one region node: invokes a function by its routing strategy through
 * its resilience policy, runs asynchronous invocations with attempts and backoff, sends the ones
 * that exhaust them to the DLQ, and replays dead letters through the same path.
 *
 * A CloudEvent is idempotent by construction (consumers may dedupe on source + id), so the event
 * id is the idempotency key: failed attempts are retried whatever the HTTP method.
 */
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import type { FunctionDecl } from '../../topology/mod.js';
import type { AttemptRecord, DeadLetter, DeadLetterQueue } from '../dlq/mod.js';
import type { PolicyConfig } from '../policy/mod.js';
import { ServiceCaller } from '../policy/mod.js';
import type { Registry } from '../registry/mod.js';
import { eventOfResponse, loadEvent, storeEvent } from './event.js';
import type { WireEvent } from './event.js';
import { InvocationStore, newInvocationId } from './invocations.js';
import { usersOfEvent } from '../erase.js';
import type { Invocation } from './invocations.js';
import { affinity, geographic, roundRobin } from './routing.js';
import type { RoutedInstance, RoutingStrategy } from './routing.js';
import { deliver } from './transport.js';
import type { FnResponse, Transport } from './transport.js';

export interface FunctionRuntimeOptions {
  readonly registry: Registry;
  readonly region: string;
  readonly transport: Transport;
  /** Declared functions (topology `functions:`). */
  readonly catalogue: ReadonlyMap<string, FunctionDecl>;
  readonly defaults?: PolicyConfig;
  readonly policies?: Readonly<Record<string, PolicyConfig>>;
  readonly dlq: DeadLetterQueue;
  readonly onError?: (err: unknown) => void;
}

export interface InvokeResult {
  readonly response: FnResponse;
  readonly instance: RoutedInstance['instance'];
  readonly attempts: number;
}

const ASYNC_DEFAULT = { maxAttempts: 3, backoffMs: 200 };

const errorOf = (err: unknown): { code: string; message: string } =>
  isMeridianError(err) ? { code: err.code, message: err.message } : { code: ErrorCode.SvcUpstreamFailed, message: err instanceof Error ? err.message : String(err) };

export class FunctionRuntime {
  readonly caller: ServiceCaller<RoutedInstance>;
  readonly invocations = new InvocationStore();
  private readonly turns = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly o: FunctionRuntimeOptions) {
    const policies: Record<string, PolicyConfig> = {};
    for (const [name, decl] of o.catalogue) if (decl.policy) policies[name] = decl.policy;
    this.caller = new ServiceCaller<RoutedInstance>({
      endpoints: (name) => geographic(o.registry.functionInstances(name)),
      defaults: o.defaults,
      services: { ...policies, ...o.policies },
    });
  }

  /** Declared in the topology, or served by some worker this region can see. */
  known(name: string): boolean {
    return this.o.catalogue.has(name) || this.o.registry.workers().some((w) => w.record.functions.includes(name));
  }

  strategy(name: string): RoutingStrategy {
    return this.o.catalogue.get(name)?.routing ?? 'geographic';
  }

  /** One synchronous invocation through routing and policy; 5xx answers are returned, not thrown. */
  async invoke(name: string, ev: WireEvent, signal?: AbortSignal, onAttempt?: (r: AttemptRecord) => void): Promise<InvokeResult> {
    if (!this.known(name)) throw new MeridianError(ErrorCode.SvcUnknownFunction, `unknown function ${JSON.stringify(name)}`, { details: { function: name } });
    const order = this.order(name, ev);
    let last: RoutedInstance['instance'] | undefined;
    let n = 0;
    const response = await this.caller.invoke(
      name,
      { method: 'POST', idempotencyKey: ev.attrs['id'] ?? '' },
      async (routed, ctx) => {
        last = routed.instance;
        n = ctx.attempt;
        const at = Date.now();
        try {
          const r = await deliver(this.o.transport, routed.instance, ev, ctx);
          onAttempt?.({ attempt: ctx.attempt, at, durationMs: Date.now() - at, ok: r.status < 500, worker: routed.instance.workerId, region: routed.instance.region, status: r.status });
          return r;
        } catch (err) {
          onAttempt?.({ attempt: ctx.attempt, at, durationMs: Date.now() - at, ok: false, worker: routed.instance.workerId, region: routed.instance.region, error: errorOf(err) });
          throw err;
        }
      },
      signal,
      order,
    );
    return { response, instance: last!, attempts: n };
  }

  /** Accept an asynchronous invocation; it runs in the background. */
  submit(name: string, ev: WireEvent): Invocation {
    if (this.closed) throw new MeridianError(ErrorCode.SvcOverloaded, 'this node is draining: send the invocation to another region node');
    if (!this.known(name)) throw new MeridianError(ErrorCode.SvcUnknownFunction, `unknown function ${JSON.stringify(name)}`, { details: { function: name } });
    const users = usersOfEvent(ev.attrs);
    const inv: Invocation = { id: newInvocationId(), function: name, eventId: ev.attrs['id'] ?? '', ...(users.length > 0 ? { users } : {}), status: 'pending', acceptedAt: Date.now(), attempts: [] };
    this.invocations.add(inv);
    const job = this.runAsync(inv, ev).catch((err: unknown) => this.o.onError?.(err));
    this.running.add(job);
    void job.finally(() => this.running.delete(job));
    return inv;
  }

  /** Re-execute a dead letter through normal routing; the outcome is recorded on the letter. */
  async replay(id: string): Promise<{ letter: DeadLetter; result?: InvokeResult; error?: unknown }> {
    const letter = await this.o.dlq.get(id);
    if (!letter) throw new MeridianError(ErrorCode.SvcNotFound, `no dead letter ${JSON.stringify(id)}`, { details: { id } });
    const at = Date.now();
    let outcome: AttemptRecord;
    let result: InvokeResult | undefined;
    let error: unknown;
    try {
      result = await this.invoke(letter.function, loadEvent(letter.event));
      const ok = result.response.status < 500;
      outcome = { attempt: letter.replays.length + 1, at, durationMs: Date.now() - at, ok, worker: result.instance.workerId, region: result.instance.region, status: result.response.status };
    } catch (err) {
      error = err;
      outcome = { attempt: letter.replays.length + 1, at, durationMs: Date.now() - at, ok: false, error: errorOf(err) };
    }
    const updated = await this.o.dlq.recordReplay(id, outcome);
    return { letter: updated, ...(result ? { result } : {}), ...(error !== undefined ? { error } : {}) };
  }

  /** Wait for background invocations (up to the deadline); new ones are refused from now on. */
  async drain(deadlineMs: number): Promise<void> {
    this.closed = true;
    const left = Math.max(0, deadlineMs - Date.now());
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, left).unref())]);
  }

  private order(name: string, ev: WireEvent): (() => readonly RoutedInstance[]) | undefined {
    const strategy = this.strategy(name);
    if (strategy === 'round-robin') {
      const turn = this.turns.get(name) ?? 0;
      this.turns.set(name, turn + 1);
      return () => roundRobin(this.o.registry.functionInstances(name), turn);
    }
    if (strategy === 'affinity') {
      const attr = this.o.catalogue.get(name)?.affinityKey ?? 'partitionkey';
      const key = ev.attrs[attr] ?? ev.attrs['subject'];
      if (key !== undefined && key !== '') return () => affinity(this.o.registry.functionInstances(name), key);
    }
    return undefined;
  }

  private async runAsync(inv: Invocation, ev: WireEvent): Promise<void> {
    const cfg = this.o.catalogue.get(inv.function)?.async ?? ASYNC_DEFAULT;
    let lastError: { code: string; message: string } = { code: ErrorCode.SvcUpstreamFailed, message: 'no attempt made' };
    inv.status = 'running';
    for (let attempt = 1; attempt <= cfg.maxAttempts; attempt++) {
      const at = Date.now();
      try {
        const r = await this.invoke(inv.function, ev);
        const rec: AttemptRecord = { attempt, at, durationMs: Date.now() - at, ok: r.response.status < 500, worker: r.instance.workerId, region: r.instance.region, status: r.response.status };
        inv.attempts.push(rec);
        if (rec.ok) {
          inv.status = 'succeeded';
          inv.finishedAt = Date.now();
          inv.result = resultOf(r.response);
          return;
        }
        lastError = { code: ErrorCode.SvcUpstreamFailed, message: `function ${inv.function} answered ${r.response.status}: ${r.response.body.toString('utf8').slice(0, 200)}` };
      } catch (err) {
        lastError = errorOf(err);
        inv.attempts.push({ attempt, at, durationMs: Date.now() - at, ok: false, error: lastError });
      }
      if (attempt < cfg.maxAttempts) await new Promise((r) => setTimeout(r, cfg.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2)));
    }
    const letter = await this.o.dlq.put({
      id: inv.id,
      function: inv.function,
      event: storeEvent(ev),
      region: this.o.region,
      acceptedAt: inv.acceptedAt,
      deadAt: Date.now(),
      lastError,
      attempts: [...inv.attempts],
    });
    inv.status = 'failed';
    inv.finishedAt = Date.now();
    inv.error = lastError;
    inv.dlqId = letter.id;
  }
}

function resultOf(r: FnResponse): NonNullable<Invocation['result']> {
  const ev = eventOfResponse(r);
  if (ev) return { status: r.status, event: storeEvent(ev) };
  return { status: r.status, bodyBase64: r.body.toString('base64'), ...(r.headers['content-type'] !== undefined ? { contentType: r.headers['content-type'] } : {}) };
}
