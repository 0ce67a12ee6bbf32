/**
 * `/v1/functions` and `/v1/invocations`: CloudEvents in (binary or structured), the handler's
 * CloudEvent out in the caller's mode; `Prefer: respond-async` → 202 with the invocation
 * resource to poll; the catalogue with desired vs live replicas per region.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { eventOfResponse, parseHttpEvent, toMode, toStructuredDoc, loadEvent } from '../functions/event.js';
import type { Invocation } from '../functions/invocations.js';
import { decodePart, readBody } from '../../http/body.js';
import type { Caller } from '../../keys/caller.js';
import { mayCall } from './access.js';
import type { ModuleContext } from './context.js';
import { sendJson } from '../../http/respond.js';
import { svcBodyLimit } from './failure.js';
import { usersOfEvent } from '../erase.js';
import { Residency } from '../../residency/mod.js';

const residencies = new WeakMap<ModuleContext, Residency>();

/** RESIDENCY_FORBIDDEN when a user the event names may not have data stored in this region. */
function checkResidency(ctx: ModuleContext, attrs: Readonly<Record<string, string>>): void {
  let residency = residencies.get(ctx);
  if (residency === undefined) residencies.set(ctx, (residency = new Residency(ctx.topology)));
  if (!residency.active) return;
  for (const user of usersOfEvent(attrs)) {
    const scope = residency.ofUser(user);
    if (scope.regions !== undefined && !scope.regions.includes(ctx.region)) {
      throw new MeridianError(ErrorCode.ResidencyForbidden, `the event names ${user}, whose residency rules (${scope.rules.join(', ')}) keep their data in ${scope.regions.join(', ')}: submit it there (an asynchronous invocation is stored where it is accepted)`, { details: { user, regions: scope.regions, rules: scope.rules } });
    }
  }
}

export async function functionsRoute(ctx: ModuleContext, req: IncomingMessage, res: ServerResponse, parts: readonly string[]): Promise<void> {
  const method = req.method ?? 'GET';
  const [rawName, ...rest] = parts;
  if ((rawName === undefined || rawName === '') && method === 'GET') return sendJson(res, 200, { region: ctx.region, functions: catalogue(ctx) });
  if (rawName === undefined || rest.length > 0) throw new MeridianError(ErrorCode.SvcNotFound, `no route ${method} /v1/functions/${parts.join('/')}`);
  const name = decodePart(rawName);
  if (method === 'GET') {
    const row = catalogue(ctx).find((r) => r.name === name);
    if (!row) throw new MeridianError(ErrorCode.SvcUnknownFunction, `unknown function ${JSON.stringify(name)}`, { details: { function: name } });
    return sendJson(res, 200, { region: ctx.region, ...row });
  }
  if (method !== 'POST') throw new MeridianError(ErrorCode.SvcNotFound, `no route ${method} /v1/functions/${name}: POST a CloudEvent`);
  if (!ctx.runtime.known(name)) throw new MeridianError(ErrorCode.SvcUnknownFunction, `unknown function ${JSON.stringify(name)}`, { details: { function: name } });
  const body = await readBody(req, svcBodyLimit(ctx.limits.maxEventBytes));
  const { event, mode } = parseHttpEvent(req.headers, body);
  if (/\brespond-async\b/i.test(String(req.headers['prefer'] ?? ''))) {
    // Accepted here, the event is kept here (the invocation record, and the DLQ if it fails for
    // good): not for users whose residency rules keep their data elsewhere.
    checkResidency(ctx, event.attrs);
    const inv = ctx.runtime.submit(name, event);
    return sendJson(res, 202, view(inv), { location: `/v1/invocations/${inv.id}`, 'preference-applied': 'respond-async', 'x-meridian-via': ctx.region });
  }
  const client = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) client.abort();
  };
  res.on('close', onClose);
  try {
    const { response: r, instance, attempts } = await ctx.runtime.invoke(name, event, client.signal);
    const served = { 'x-meridian-region': instance.region, 'x-meridian-worker': instance.workerId, 'x-meridian-attempts': String(attempts), 'x-meridian-via': ctx.region };
    if (r.status >= 500) {
      throw new MeridianError(ErrorCode.SvcUpstreamFailed, `function ${name} failed with ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`, {
        details: { function: name, status: r.status, worker: instance.workerId, region: instance.region },
      });
    }
    const out = eventOfResponse(r);
    if (out) {
      const msg = toMode(out, mode);
      res.writeHead(r.status, { ...msg.headers, 'content-length': msg.body.length, ...served });
      res.end(msg.body);
      return;
    }
    const headers: Record<string, string | number> = { ...served, 'content-length': r.body.length };
    if (r.headers['content-type'] !== undefined) headers['content-type'] = r.headers['content-type'];
    res.writeHead(r.status, headers);
    res.end(r.body);
  } finally {
    res.off('close', onClose);
  }
}

export function invocationsRoute(ctx: ModuleContext, req: IncomingMessage, res: ServerResponse, parts: readonly string[], caller: Caller): void {
  const [id, ...rest] = parts;
  if (id === undefined || rest.length > 0 || (req.method ?? 'GET') !== 'GET') throw new MeridianError(ErrorCode.SvcNotFound, `no route ${req.method} /v1/invocations/${parts.join('/')}`);
  const found = ctx.runtime.invocations.get(id);
  // Someone who may not call the function does not learn that the invocation exists either.
  const inv = found !== undefined && mayCall(caller, 'function', found.function) ? found : undefined;
  if (!inv) throw new MeridianError(ErrorCode.SvcNotFound, `no invocation ${JSON.stringify(id)} on this node (invocations are polled on the node that accepted them)`, { details: { id } });
  sendJson(res, 200, view(inv));
}

function view(inv: Invocation): unknown {
  const { result, ...rest } = inv;
  const out: Record<string, unknown> = { ...rest, href: `/v1/invocations/${inv.id}` };
  if (result) {
    out['result'] = result.event
      ? { status: result.status, event: toStructuredDoc(loadEvent(result.event)) }
      : { status: result.status, ...(result.contentType !== undefined ? { contentType: result.contentType } : {}), bodyBase64: result.bodyBase64 };
  }
  if (inv.dlqId !== undefined) out['dlq'] = `/v1/dlq/${inv.dlqId}`;
  return out;
}

interface CatalogueRow {
  readonly name: string;
  readonly declared: boolean;
  readonly routing: string;
  readonly desired: number;
  readonly live: number;
  readonly regions: Array<{ region: string; desired: number; live: number; missing: number }>;
}

function catalogue(ctx: ModuleContext): CatalogueRow[] {
  const decls = ctx.topology.functions ?? {};
  const names = new Set(Object.keys(decls));
  for (const w of ctx.registry.workers()) for (const f of w.record.functions) names.add(f);
  return [...names].sort().map((name) => {
    const decl = decls[name];
    const live = new Map<string, number>();
    for (const i of ctx.registry.functionInstances(name)) if (!i.stale) live.set(i.region, (live.get(i.region) ?? 0) + 1);
    const regions = ctx.topology.regions.map((r) => {
      const desired = decl?.placement[r.name] ?? 0;
      const l = live.get(r.name) ?? 0;
      return { region: r.name, desired, live: l, missing: Math.max(0, desired - l) };
    });
    return {
      name,
      declared: decl !== undefined,
      routing: decl?.routing ?? 'geographic',
      desired: regions.reduce((a, r) => a + r.desired, 0),
      live: regions.reduce((a, r) => a + r.live, 0),
      regions,
    };
  });
}
