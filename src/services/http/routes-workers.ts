/**
 * `/v1/workers`: registration (`POST`), heartbeat (`PUT /{id}/heartbeat`), deregistration
 * (`DELETE /{id}`) and the fleet as this region sees it (`GET`). Every call needs the
 * registration token: anyone who could deregister a worker could take a service down. Writes go
 * to this node's region's workers bucket, so a worker whose own region's bus is down keeps
 * heartbeating here; its `region` stays the one it registered with.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { invalid } from '../registry/validate.js';
import { checkBearer } from './auth.js';
import { readJson } from '../../http/body.js';
import type { ModuleContext } from './context.js';
import { sendJson } from '../../http/respond.js';
import { svcBodyLimit } from './failure.js';
import { urlPort } from '../egress/listeners.js';
import { clientAddress } from '../../http/client-address.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Worker URLs the egress policy refuses (literal addresses, metadata names, node listeners): a 400 with every one. */
function egressProblems(ctx: ModuleContext, reg: unknown): void {
  if (!isObject(reg)) return;
  const problems: { path: string; message: string }[] = [];
  const check = (list: unknown, what: string): void => {
    if (!Array.isArray(list)) return;
    list.forEach((e: unknown, i) => {
      const raw = isObject(e) ? e['url'] : undefined;
      if (typeof raw !== 'string' || !URL.canParse(raw)) return;
      const u = new URL(raw);
      const v = ctx.egress.endpoint(u.hostname, urlPort(u));
      if (!v.ok) problems.push({ path: `${what}[${i}].url`, message: `refused by the egress policy: ${v.reason}` });
    });
  };
  check(reg['services'], 'services');
  check(reg['functions'], 'functions');
  if (problems.length > 0) throw invalid('registration', problems);
}

export async function workersRoute(ctx: ModuleContext, req: IncomingMessage, res: ServerResponse, parts: readonly string[]): Promise<void> {
  checkBearer(req, ctx.token);
  const method = req.method ?? 'GET';
  const [id, action, ...more] = parts;
  if (id === undefined && method === 'POST') {
    const body = await readJson(req, svcBodyLimit(ctx.limits.maxRegistrationBytes));
    // The node's own region unless the worker names one (a worker may register through any node).
    const reg = isObject(body) && body['region'] === undefined ? { ...body, region: ctx.region } : body;
    egressProblems(ctx, reg);
    const lease = await ctx.registry.register(reg as never);
    ctx.audit?.record({ actor: { kind: 'worker' }, action: 'worker.register', target: lease.id, from: clientAddress(req), outcome: 'ok', status: 201 });
    return sendJson(res, 201, { ...lease, region: (reg as { region: string }).region, node: ctx.region }, { location: `/v1/workers/${encodeURIComponent(lease.id)}` });
  }
  if (id === undefined && method === 'GET') {
    return sendJson(res, 200, { region: ctx.region, workers: ctx.registry.workers().map((w) => ({ ...w.record, health: w.health, ageMs: Math.round(w.ageMs), revision: w.revision, heldIn: w.heldIn })), stats: ctx.registry.stats() });
  }
  if (id !== undefined && action === 'heartbeat' && more.length === 0 && (method === 'PUT' || method === 'POST')) {
    const load = (await readJson(req, svcBodyLimit(ctx.limits.maxRegistrationBytes))) ?? { inFlight: 0 };
    return sendJson(res, 200, await ctx.registry.heartbeat(id, load as never));
  }
  if (id !== undefined && action === undefined && method === 'DELETE') {
    await ctx.registry.deregister(id);
    ctx.audit?.record({ actor: { kind: 'worker' }, action: 'worker.deregister', target: id.slice(0, 140), from: clientAddress(req), outcome: 'ok', status: 204 });
    res.writeHead(204).end();
    return;
  }
  if (id !== undefined && action === undefined && method === 'GET') {
    const w = ctx.registry.worker(id);
    if (!w) throw new MeridianError(ErrorCode.SvcUnknownWorker, `worker ${JSON.stringify(id)} is not registered`, { details: { id } });
    return sendJson(res, 200, { ...w.record, health: w.health, ageMs: Math.round(w.ageMs), revision: w.revision, heldIn: w.heldIn });
  }
  throw new MeridianError(ErrorCode.SvcNotFound, `no route ${method} /v1/workers/${parts.join('/')}`);
}
