/**
 * `ANY /v1/*` → the chosen region. Bodies are streamed both ways; hop-by-hop headers are dropped;
 * the answer names the region that served it (`X-Meridian-Region`).
 *
 * One retry on another region, only when it is safe: the method is idempotent (GET, HEAD,
 * OPTIONS, PUT, DELETE) or the request carries an `Idempotency-Key`, and the first region failed
 * before answering (refused, reset) without a byte of the body sent — the body is streamed, not
 * buffered, so it can only be sent once. The body is piped only once the upstream connection is
 * up, so a refused connection leaves it unread and retryable. A timeout is never retried: the
 * region may be working on the request.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ErrorCode } from '../../errors/mod.js';
import type { EdgeContext } from './context.js';
import { endToEnd, forwardHeaders } from '../../http/headers.js';
import { pipeBodyOnConnect, relayAnswer } from '../../http/proxy.js';
import { sendError } from '../../http/respond.js';
import { locateClient, requestedAffinity, steer } from './steer.js';
import type { Steering } from './steer.js';

export interface Agents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
}

/**
 * Idle upstream sockets are closed after this long: under node:http's default keepAliveTimeout
 * (5 s, what region nodes run with), so the edge drops an idle socket before the region does and
 * never sends a request into a connection the region is closing.
 */
export const UPSTREAM_IDLE_MS = 4_000;

/**
 * Keep-alive pools to the regions. `lifo` reuses the most recently freed socket, so a burst's
 * extra sockets go idle and time out instead of being kept barely warm by round-robin reuse;
 * `maxFreeSockets` bounds how many idle ones are kept at all.
 */
export function createAgents(): Agents {
  const opts = { keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo', timeout: UPSTREAM_IDLE_MS } as const;
  return { http: new HttpAgent(opts), https: new HttpsAgent(opts) };
}

type Attempt = { readonly kind: 'responded' } | { readonly kind: 'failed'; readonly error: string; readonly retryable: boolean; readonly timeout: boolean; readonly clientGone: boolean };

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const CORS_HEADERS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age'];
const UPSTREAM_DOWN = new Set([502, 503, 504]);
const RESPONDED: Attempt = { kind: 'responded' };

export function mayRetry(req: IncomingMessage): boolean {
  return IDEMPOTENT.has(req.method ?? '') || req.headers['idempotency-key'] !== undefined;
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

function attempt(ctx: EdgeContext, agents: Agents, req: IncomingMessage, res: ServerResponse, region: string, url: URL): Promise<Attempt> {
  return new Promise((resolve) => {
    let settled = false;
    let bodyStarted = false;
    let responded = false;
    let clientGone = false;
    let timedOut = false;
    const finish = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      if (!responded) res.off('close', onClose);
      resolve(a);
    };
    const https = url.protocol === 'https:';
    const up = (https ? httpsRequest : httpRequest)({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req),
      agent: https ? agents.https : agents.http,
    });
    // The client's response closes when it is done or when the client went away. Once the
    // region has answered, this is also where the attempt ends (the body fully written, or cut).
    const onClose = (): void => {
      if (!res.writableFinished) {
        clientGone = true;
        up.destroy();
      }
      if (responded) finish(RESPONDED);
    };
    res.on('close', onClose);
    up.setTimeout(ctx.options.proxyTimeoutMs ?? 60_000, () => {
      timedOut = true;
      up.destroy(new Error('upstream timeout'));
    });
    if (!hasBody(req)) up.end();
    else pipeBodyOnConnect(req, up, () => (bodyStarted = true));
    up.on('response', (upRes) => {
      responded = true;
      const status = upRes.statusCode ?? 502;
      ctx.monitor.recordOutcome(region, !UPSTREAM_DOWN.has(status));
      // With CORS configured the edge owns it: a region's own CORS headers would contradict it.
      const headers = endToEnd(upRes.headers, ctx.options.cors === undefined ? [] : CORS_HEADERS);
      headers['x-meridian-region'] = region;
      res.writeHead(status, headers);
      // A body the region cuts short cuts the client's response too (src/http/proxy.ts); the
      // client gone first is handled by onClose above (the request is destroyed with it).
      void relayAnswer(upRes, res);
      // The client went away before the answer arrived: its close has passed, so end here.
      if (res.destroyed) finish(RESPONDED);
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (responded) return; // upRes closes incomplete, which cuts the client's response
      req.unpipe(up);
      if (!clientGone) {
        ctx.monitor.recordOutcome(region, false);
        ctx.metrics.proxyErrors.inc({ region, transport: 'http' });
      }
      const error = timedOut ? 'timeout' : (err.code ?? err.message);
      finish({ kind: 'failed', error, retryable: !bodyStarted && !timedOut && !clientGone, timeout: timedOut, clientGone });
    });
  });
}

function noRegion(ctx: EdgeContext, res: ServerResponse, s: Steering): void {
  sendError(res, 503, ErrorCode.EdgeNoRegion, `no region can serve this request (${s.decision.reason})`, undefined, { 'retry-after': String(ctx.retryAfterS) });
}

export async function proxyHttp(ctx: EdgeContext, agents: Agents, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const client = locateClient(ctx, req);
  const first = steer(ctx, client, requestedAffinity(ctx, req));
  if (first.region === null || first.url === null) return noRegion(ctx, res, first);
  ctx.load.request(first.region);
  let result = await attempt(ctx, agents, req, res, first.region, first.url);
  let region = first.region;
  if (result.kind === 'failed' && result.retryable && mayRetry(req)) {
    const second = steer(ctx, client, undefined, new Set([first.region]));
    if (second.region !== null && second.url !== null) {
      ctx.load.request(second.region);
      region = second.region;
      result = await attempt(ctx, agents, req, res, second.region, second.url);
    }
  }
  if (result.kind === 'responded' || result.clientGone) return;
  if (result.timeout) sendError(res, 504, ErrorCode.EdgeUpstreamTimeout, `region ${region} did not answer in time`, undefined, { 'x-meridian-region': region });
  else sendError(res, 502, ErrorCode.EdgeUpstreamFailed, `region ${region} failed: ${result.error}`, undefined, { 'x-meridian-region': region });
}
