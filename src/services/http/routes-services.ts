/**
 * `/v1/services`: the listing, one service's state (endpoints with breaker, ejection and
 * in-flight as this node sees them, plus the policy snapshot), its endpoints in failover order,
 * and everything else under a service name goes to the proxy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import { decodePart } from '../../http/body.js';
import type { ModuleContext } from './context.js';
import { proxyService } from './proxy.js';
import { sendJson } from '../../http/respond.js';

export async function servicesRoute(ctx: ModuleContext, req: IncomingMessage, res: ServerResponse, url: URL, rawParts: readonly string[]): Promise<void> {
  const method = req.method ?? 'GET';
  const [rawName, ...rest] = rawParts;
  if (rawName === undefined || rawName === '') {
    if (method !== 'GET') throw new MeridianError(ErrorCode.SvcNotFound, `no route ${method} /v1/services`);
    return sendJson(res, 200, { region: ctx.region, services: summaries(ctx) });
  }
  const name = decodePart(rawName);
  if (rest.length === 0 && method === 'GET') return sendJson(res, 200, state(ctx, name));
  if (rest.length === 1 && rest[0] === 'endpoints' && method === 'GET') {
    known(ctx, name);
    const from = url.searchParams.get('from') ?? ctx.region;
    return sendJson(res, 200, { service: name, from, endpoints: ctx.registry.endpoints(name, from) });
  }
  const restPath = rest.length === 0 ? '' : `/${rest.join('/')}`;
  await proxyService(ctx.proxy, req, res, name, restPath, url.search);
}

function summaries(ctx: ModuleContext): unknown[] {
  const seen = ctx.registry.services();
  const out: unknown[] = [...seen];
  for (const name of ctx.proxy.declared) if (!seen.some((s) => s.name === name)) out.push({ name, endpoints: 0, healthy: 0, regions: [] });
  return out.sort((a, b) => (a as { name: string }).name.localeCompare((b as { name: string }).name));
}

function known(ctx: ModuleContext, name: string): void {
  if (!ctx.proxy.declared.has(name) && !ctx.registry.services().some((s) => s.name === name)) {
    throw new MeridianError(ErrorCode.SvcUnknownService, `unknown service ${JSON.stringify(name)}: no worker has registered it`, { details: { service: name } });
  }
}

function state(ctx: ModuleContext, name: string): unknown {
  known(ctx, name);
  const summary = ctx.registry.services().find((s) => s.name === name) ?? { name, endpoints: 0, healthy: 0, regions: [] };
  const snap = ctx.proxy.caller.policy(name).snapshot();
  const byKey = new Map(snap.endpoints.map((e) => [e.key, e]));
  const endpoints = ctx.registry.endpoints(name).map((e) => {
    const p = byKey.get(e.key);
    return { ...e, inFlight: p?.inFlight ?? 0, breaker: p?.breaker ?? 'closed', ejection: p?.ejection ?? { ejected: false, until: null, ejections: 0, consecutiveFailures: 0 } };
  });
  return { ...summary, region: ctx.region, endpoints, policy: snap.policy, budget: snap.budget, bulkhead: snap.bulkhead, counters: snap.counters, breakers: snap.endpoints };
}
