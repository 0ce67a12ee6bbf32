/** `/v1/dlq`: list, read, replay (through normal routing, outcome recorded) and delete dead letters. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { actorOf } from '../../audit/mod.js';
import { ErrorCode, MeridianError } from '../../errors/mod.js';
import type { Caller } from '../../keys/caller.js';
import { eventOfResponse, toStructuredDoc } from '../functions/event.js';
import type { ModuleContext } from './context.js';
import { sendJson } from '../../http/respond.js';
import { clientAddress } from '../../http/client-address.js';

/** `caller` is the operator the module authorized (a key with the dlq scope, or the admin token): the audit names it. */
export async function dlqRoute(ctx: ModuleContext, req: IncomingMessage, res: ServerResponse, url: URL, parts: readonly string[], caller: Caller): Promise<void> {
  const method = req.method ?? 'GET';
  const [id, action, ...more] = parts;
  if ((id === undefined || id === '') && method === 'GET') {
    const limitRaw = url.searchParams.get('limit');
    const fn = url.searchParams.get('function');
    const after = url.searchParams.get('after');
    const letters = await ctx.dlq.list({ ...(limitRaw !== null ? { limit: Number(limitRaw) } : {}), ...(fn !== null ? { function: fn } : {}), ...(after !== null ? { after } : {}) });
    const last = letters[letters.length - 1];
    return sendJson(res, 200, { region: ctx.region, kind: ctx.dlq.kind, letters, ...(last ? { next: `/v1/dlq?after=${encodeURIComponent(last.id)}` } : {}) });
  }
  if (id === undefined || more.length > 0) throw new MeridianError(ErrorCode.SvcNotFound, `no route ${method} /v1/dlq/${parts.join('/')}`);
  if (action === undefined && method === 'GET') {
    const letter = await ctx.dlq.get(id);
    if (!letter) throw new MeridianError(ErrorCode.SvcNotFound, `no dead letter ${JSON.stringify(id)}`, { details: { id } });
    return sendJson(res, 200, letter);
  }
  if (action === undefined && method === 'DELETE') {
    if (!(await ctx.dlq.delete(id))) throw new MeridianError(ErrorCode.SvcNotFound, `no dead letter ${JSON.stringify(id)}`, { details: { id } });
    ctx.audit?.record({ actor: actorOf(caller), action: 'dlq.delete', target: id.slice(0, 140), from: clientAddress(req), outcome: 'ok', status: 204 });
    res.writeHead(204).end();
    return;
  }
  if (action === 'replay' && method === 'POST') {
    const { letter, result, error } = await ctx.runtime.replay(id);
    const ok = letter.replays[letter.replays.length - 1]?.ok ?? false;
    ctx.audit?.record({ actor: actorOf(caller), action: 'dlq.replay', target: id.slice(0, 140), from: clientAddress(req), outcome: ok ? 'ok' : 'failed', status: ok ? 200 : 502 });
    const ev = result ? eventOfResponse(result.response) : undefined;
    return sendJson(res, ok ? 200 : 502, {
      ok,
      letter,
      ...(result ? { result: { status: result.response.status, worker: result.instance.workerId, region: result.instance.region, ...(ev ? { event: toStructuredDoc(ev) } : {}) } } : {}),
      ...(error !== undefined ? { error: letter.replays[letter.replays.length - 1]?.error } : {}),
    });
  }
  throw new MeridianError(ErrorCode.SvcNotFound, `no route ${method} /v1/dlq/${parts.join('/')}`);
}
