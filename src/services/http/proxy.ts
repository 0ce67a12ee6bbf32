/**
 * `ANY /v1/services/{name}/{path...}`: the service proxy. The request goes through the service's
 * policies (bulkhead, retries within the budget, breakers, ejection, timeout) to an endpoint
 * picked local region first by P2C; when the local region has none left the next tier is the
 * nearest region, so failover is transparent to the caller. Only endpoints from the registry are
 * ever called: the target is the registered base URL plus the caller's path, never a host the
 * caller names.
 *
 * Bodies. A small body with a declared length (≤ `retryBufferBytes`) is read first, so any
 * attempt can resend it, and goes over undici (its client costs less per request than
 * node:http's); a larger or chunked body is streamed with node:http to the first endpoint only
 * once its connection is up. A refused connection leaves it unread, so even a streamed request
 * fails over; once bytes went out, it is never sent again. Responses stream back; a response the
 * policy decides to retry (502/503/504 on an idempotent request) is discarded unread.
 */
import { request as httpRequest } from 'node:http';
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { Agent as UndiciAgent } from 'undici';
import { egressError } from '../egress/policy.js';
import { urlPort } from '../egress/listeners.js';
import type { EgressPolicy } from '../egress/policy.js';
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import type { ServiceCaller } from '../policy/mod.js';
import { Cancel } from '../policy/abort.js';
import type { AbortLike } from '../policy/abort.js';
import type { Endpoint, Registry } from '../registry/mod.js';
import { declaredLength, hasBody, readBody, tooLarge } from '../../http/body.js';
import { endToEnd, forwardHeaders, viaToken } from '../../http/headers.js';
import { pipeBodyOnConnect, relayAnswer } from '../../http/proxy.js';
import { sendServiceFailure, svcBodyLimit } from './failure.js';

export interface ProxyContext {
  readonly region: string;
  readonly registry: Registry;
  readonly caller: ServiceCaller<Endpoint>;
  /** undici for requests whose body is in memory (most); node:http to stream a body once. */
  readonly agents: { readonly http: HttpAgent; readonly https: HttpsAgent; readonly undici: UndiciAgent };
  readonly maxBodyBytes: number;
  readonly retryBufferBytes: number;
  readonly retryAfterS: number;
  /** Services declared in the topology: known (503 when empty) even with no worker registered. */
  readonly declared: ReadonlySet<string>;
  /** Where requests may go (the agents resolve names through its lookup; literals are checked here). */
  readonly egress: EgressPolicy;
}

interface Upstream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
  readonly endpoint: Endpoint;
}

const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EMERIDIANEGRESS']);

function looped(req: IncomingMessage, region: string): boolean {
  const via = req.headers['via'];
  if (via === undefined) return false;
  const token = viaToken(region);
  return via.split(',').some((hop) => hop.trim() === token);
}

/** `rest` is the raw path after `/v1/services/{name}` (starting with `/` or empty), `search` the query. */
export async function proxyService(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, name: string, rest: string, search: string): Promise<void> {
  // Policies are created per service on first use: never for names nobody registered.
  if (!ctx.caller.has(name) && !known(ctx, name)) return sendServiceFailure(res, unknownService(name), ctx.retryAfterS);
  if (looped(req, ctx.region)) {
    // A worker registered at a node's own /v1/services/… turned one request into a thousand.
    req.resume();
    return sendServiceFailure(res, new MeridianError(ErrorCode.SvcLoopDetected, `service ${name}: the request already passed through region ${ctx.region} (Via): refused to loop`, { details: { service: name, region: ctx.region } }), ctx.retryAfterS);
  }
  if (rest.split('/').some((seg) => seg === '..' || decodeSafe(seg) === '..')) {
    return sendServiceFailure(res, new MeridianError(ErrorCode.InvalidArgument, 'the path must not contain ".." segments'), ctx.retryAfterS);
  }
  const declared = declaredLength(req);
  if (declared !== undefined && declared > ctx.maxBodyBytes) {
    res.setHeader('connection', 'close');
    return sendServiceFailure(res, tooLarge(svcBodyLimit(ctx.maxBodyBytes)), ctx.retryAfterS);
  }
  let buffered: Buffer | null = null;
  const streamed = hasBody(req) && !(declared !== undefined && declared <= ctx.retryBufferBytes);
  if (hasBody(req) && !streamed) {
    try {
      buffered = await readBody(req, svcBodyLimit(ctx.maxBodyBytes));
    } catch (err) {
      return sendServiceFailure(res, err, ctx.retryAfterS);
    }
  }

  // The caller going away (its connection closed before the answer was written) cancels the call.
  const client = new Cancel();
  const onClose = (): void => {
    if (!res.writableFinished) client.abort();
  };
  res.on('close', onClose);
  let bodySent = false;
  let pending: Upstream | undefined;
  let overLimit = false;
  const idem = req.headers['idempotency-key'];
  try {
    const up = await ctx.caller.invoke<Upstream>(
      name,
      {
        method: req.method ?? 'GET',
        ...(typeof idem === 'string' ? { idempotencyKey: idem } : {}),
        // A streamed body can be sent once; only undelivered attempts may go again.
        ...(streamed ? { idempotent: false } : {}),
      },
      (endpoint, { cancel }) => {
        // The previous attempt's answer was not good enough for the policy: drop it.
        if (pending) drop(pending.body);
        pending = undefined;
        if (streamed && bodySent) throw new MeridianError(ErrorCode.SvcUpstreamFailed, 'a streamed body cannot be sent twice', { details: { delivered: true } });
        const sent = streamed
          ? attempt(ctx, req, endpoint, rest, search, cancel, () => (bodySent = true), () => (overLimit = true))
          : attemptInMemory(ctx, req, endpoint, rest, search, cancel, buffered);
        return sent.then((u) => (pending = u));
      },
      client,
    );
    pending = undefined;
    const headers = endToEnd(up.headers);
    headers['x-meridian-region'] = up.endpoint.region;
    headers['x-meridian-worker'] = up.endpoint.workerId;
    headers['x-meridian-via'] = ctx.region;
    res.writeHead(up.status, headers);
    const release = ctx.caller.policy(name).track(up.endpoint.key);
    await relayAnswer(up.body, res);
    release();
  } catch (err) {
    if (pending) drop(pending.body);
    if (client.aborted) return;
    // Checked only when nothing could be called: the common path never scans the registry.
    if (isMeridianError(err, ErrorCode.SvcNoEndpoints) && !known(ctx, name)) {
      return sendServiceFailure(res, unknownService(name), ctx.retryAfterS);
    }
    if (overLimit) {
      res.setHeader('connection', 'close');
      return sendServiceFailure(res, tooLarge(svcBodyLimit(ctx.maxBodyBytes)), ctx.retryAfterS);
    }
    sendServiceFailure(res, err, ctx.retryAfterS, { 'x-meridian-via': ctx.region });
  } finally {
    res.off('close', onClose);
  }
}

/**
 * Throw an unread (or half-read) answer away. undici's body emits an AbortError when destroyed
 * before its end, so it gets a listener first: an unheard 'error' would crash the process.
 */
function drop(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

const bases = new Map<string, URL>();

/**
 * Host and port come from the registration only; the caller contributes path and query. A
 * literal address is checked against the egress policy here (names are, by the agents' lookup).
 */
function target(ctx: ProxyContext, endpoint: Endpoint, rest: string, search: string): { base: URL; path: string } {
  let base = bases.get(endpoint.url);
  if (!base) {
    if (bases.size > 10_000) bases.clear();
    base = new URL(endpoint.url);
    bases.set(endpoint.url, base);
  }
  const verdict = ctx.egress.endpoint(base.hostname, urlPort(base));
  if (!verdict.ok) {
    throw new MeridianError(ErrorCode.SvcUpstreamFailed, `service ${endpoint.service}: worker ${endpoint.workerId} (${endpoint.region}): ${egressError(base.hostname, verdict.reason).message}`, {
      details: { service: endpoint.service, worker: endpoint.workerId, region: endpoint.region, delivered: false },
    });
  }
  return { base, path: `${base.pathname.replace(/\/+$/, '')}${rest === '' ? '/' : rest}${search}` };
}

// The caller's credential is for this node, never for the worker. Left out of the copy rather
// than deleted from it: a `delete` puts the object in dictionary mode (~0.7 µs more per request
// to build and iterate). undici refuses content-length and expect (it frames the body itself).
const STREAMED_DROP: readonly string[] = ['authorization'];
const IN_MEMORY_DROP: readonly string[] = ['authorization', 'content-length', 'expect'];

/**
 * An attempt whose request body is in memory (or absent), over undici: its client costs a
 * fraction of node:http's per request, and it is the path nearly every call takes.
 */
async function attemptInMemory(ctx: ProxyContext, req: IncomingMessage, endpoint: Endpoint, rest: string, search: string, signal: AbortLike, buffered: Buffer | null): Promise<Upstream> {
  const { base, path } = target(ctx, endpoint, rest, search);
  const headers = forwardHeaders(req, { via: ctx.region, drop: IN_MEMORY_DROP });
  try {
    const r = await ctx.agents.undici.request({
      origin: base.origin,
      path,
      method: req.method ?? 'GET',
      headers: headers as Record<string, string | string[]>,
      body: buffered,
      // undici takes any object with addEventListener as a signal (abort.ts: a Cancel is cheaper).
      signal,
    });
    return { status: r.statusCode, headers: r.headers, body: r.body, endpoint };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new MeridianError(ErrorCode.SvcUpstreamFailed, `service ${endpoint.service}: worker ${endpoint.workerId} (${endpoint.region}) failed: ${code === 'EMERIDIANEGRESS' || code === '' ? (err as Error).message : code}`, {
      cause: err,
      details: { service: endpoint.service, worker: endpoint.workerId, region: endpoint.region, delivered: !NOT_CONNECTED.has(code) },
    });
  }
}

/** An attempt that streams the caller's body (node:http: the body is piped once connected). */
function attempt(
  ctx: ProxyContext,
  req: IncomingMessage,
  endpoint: Endpoint,
  rest: string,
  search: string,
  signal: AbortLike,
  onBodyStart: () => void,
  onOverLimit: () => void,
): Promise<Upstream> {
  const { base: url, path } = target(ctx, endpoint, rest, search);
  return new Promise((resolve, reject) => {
    let connected = false;
    let settled = false;
    const https = url.protocol === 'https:';
    const headers = forwardHeaders(req, { via: ctx.region, drop: STREAMED_DROP });
    const up = (https ? httpsRequest : httpRequest)({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      method: req.method,
      path,
      headers,
      agent: https ? ctx.agents.https : ctx.agents.http,
    });
    // The policy's signal covers the wait for the response head (timeout, caller gone); the
    // body streams afterwards under the client's own connection.
    const onAbort = (): void => void up.destroy(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => {
      settled = true;
      signal.removeEventListener('abort', onAbort);
    };
    pipeBodyOnConnect(req, up, () => {
      connected = true;
      onBodyStart();
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > ctx.maxBodyBytes) {
          onOverLimit();
          req.unpipe(up);
          up.destroy(tooLarge(svcBodyLimit(ctx.maxBodyBytes)));
        }
      });
    });
    up.on('response', (upRes) => {
      if (settled) return void upRes.destroy();
      settle();
      resolve({ status: upRes.statusCode ?? 502, headers: upRes.headers, body: upRes, endpoint });
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settle();
      req.unpipe(up);
      const delivered = connected || !NOT_CONNECTED.has(err.code ?? '');
      reject(
        new MeridianError(ErrorCode.SvcUpstreamFailed, `service ${endpoint.service}: worker ${endpoint.workerId} (${endpoint.region}) failed: ${err.code === undefined || err.code === 'EMERIDIANEGRESS' ? err.message : err.code}`, {
          cause: err,
          details: { service: endpoint.service, worker: endpoint.workerId, region: endpoint.region, delivered },
        }),
      );
    });
  });
}

const unknownService = (name: string): MeridianError =>
  new MeridianError(ErrorCode.SvcUnknownService, `unknown service ${JSON.stringify(name)}: no worker has registered it`, { details: { service: name } });

function known(ctx: ProxyContext, name: string): boolean {
  return ctx.declared.has(name) || ctx.registry.services().some((s) => s.name === name);
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
