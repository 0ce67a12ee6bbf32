/**
 * Delivering one CloudEvent to one function instance and reading its answer: HTTP POST in
 * binary mode to a worker's function URL, or a bus request to an in-process worker
 * (`subjects.fnWorker`). Either way the answer is a small HTTP-like response; a failure to reach
 * the instance at all is marked `delivered: false` so the policy may retry it for any event.
 */
import type { Agent} from 'node:http';
import { request as httpRequest } from 'node:http';
import type { Agent as HttpsAgent} from 'node:https';
import { request as httpsRequest } from 'node:https';
import type { Bus } from '../../bus/types.js';
import { subjects } from '../../bus/subjects.js';
import { ErrorCode, MeridianError, isMeridianError } from '../../errors/mod.js';
import type { AttemptContext } from '../policy/mod.js';
import type { FunctionInstance } from '../registry/mod.js';
import { toBinary } from './event.js';
import type { WireEvent } from './event.js';
import { egressError } from '../egress/policy.js';
import { urlPort } from '../egress/listeners.js';
import type { EgressPolicy } from '../egress/policy.js';

export interface FnResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Header carrying the handler's HTTP status on a bus reply. */
export const STATUS_HEADER = 'Mrd-Status';
/** Header naming the function on a bus request (an in-process worker may host several). */
export const FUNCTION_HEADER = 'Mrd-Function';

const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EMERIDIANEGRESS']);

export interface Transport {
  readonly bus: Bus;
  readonly http: Agent;
  readonly https: HttpsAgent;
  /** Where HTTP workers may be (the agents resolve names through its lookup; literals are checked here). */
  readonly egress?: EgressPolicy;
  readonly maxResponseBytes: number;
  readonly timeoutMs: (fn: string) => number;
}

export function deliver(t: Transport, inst: FunctionInstance, ev: WireEvent, ctx: AttemptContext): Promise<FnResponse> {
  return inst.url === undefined ? viaBus(t, inst, ev) : viaHttp(t, inst, inst.url, ev, ctx);
}

async function viaBus(t: Transport, inst: FunctionInstance, ev: WireEvent): Promise<FnResponse> {
  const { headers, body } = toBinary(ev);
  try {
    const msg = await t.bus.request(subjects.fnWorker(inst.workerId), body, { headers: { ...headers, [FUNCTION_HEADER]: inst.function }, timeoutMs: t.timeoutMs(inst.function) + 1000 });
    const { [STATUS_HEADER]: status, ...rest } = msg.headers;
    const lower: Record<string, string> = {};
    for (const [k, v] of Object.entries(rest)) lower[k.toLowerCase()] = v;
    return { status: Number(status ?? 200), headers: lower, body: Buffer.from(msg.data) };
  } catch (err) {
    if (isMeridianError(err, ErrorCode.BusNoResponders)) {
      throw new MeridianError(ErrorCode.SvcUpstreamFailed, `function ${inst.function}: in-process worker ${inst.workerId} is not there`, { cause: err, details: { worker: inst.workerId, region: inst.region, delivered: false } });
    }
    throw err;
  }
}

function viaHttp(t: Transport, inst: FunctionInstance, raw: string, ev: WireEvent, ctx: AttemptContext): Promise<FnResponse> {
  const url = new URL(raw);
  const verdict = t.egress?.endpoint(url.hostname, urlPort(url)) ?? { ok: true };
  if (!verdict.ok) {
    const err = egressError(url.hostname, verdict.reason);
    return Promise.reject(new MeridianError(ErrorCode.SvcUpstreamFailed, `function ${inst.function}: worker ${inst.workerId} (${inst.region}): ${err.message}`, { cause: err, details: { worker: inst.workerId, region: inst.region, delivered: false } }));
  }
  const { headers, body } = toBinary(ev);
  return new Promise((resolve, reject) => {
    let connected = false;
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { ...headers, 'content-length': body.length },
      agent: https ? t.https : t.http,
    });
    const onAbort = (): void => void req.destroy(new Error('aborted'));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    req.on('socket', (s) => {
      if (!s.connecting) connected = true;
      else s.once('connect', () => (connected = true));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > t.maxResponseBytes) res.destroy(new Error(`response over ${t.maxResponseBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        ctx.signal.removeEventListener('abort', onAbort);
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
      });
      res.on('error', (err) => reject(failed(inst, err, true)));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      ctx.signal.removeEventListener('abort', onAbort);
      reject(failed(inst, err, connected || !NOT_CONNECTED.has(err.code ?? '')));
    });
    req.end(body);
  });
}

function failed(inst: FunctionInstance, err: NodeJS.ErrnoException, delivered: boolean): MeridianError {
  return new MeridianError(ErrorCode.SvcUpstreamFailed, `function ${inst.function}: worker ${inst.workerId} (${inst.region}) failed: ${err.code ?? err.message}`, {
    cause: err,
    details: { worker: inst.workerId, region: inst.region, delivered },
  });
}
