/**
 * CloudEvents in the worker, with the official `cloudevents` SDK: requests from region nodes
 * arrive in binary mode; answers go back in binary mode.
 */
import { CloudEvent, HTTP } from 'cloudevents';
import type { FunctionHandler } from './types.js';

export interface HttpLike {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export async function runFunction(handler: FunctionHandler, headers: Record<string, string>, body: Buffer, workerId: string): Promise<HttpLike> {
  let event: CloudEvent<unknown>;
  try {
    // The SDK parses JSON and text data from strings; anything else stays bytes.
    const textual = /json|^text\//i.test(headers['content-type'] ?? 'application/json');
    event = HTTP.toEvent({ headers, body: textual ? body.toString('utf8') : body }) as CloudEvent<unknown>;
  } catch (err) {
    return text(400, `invalid CloudEvent: ${err instanceof Error ? err.message : String(err)}`);
  }
  let out: unknown;
  try {
    out = await handler(event);
  } catch (err) {
    return text(500, err instanceof Error ? err.message : String(err));
  }
  if (out === undefined || out === null) return { status: 204, headers: {}, body: Buffer.alloc(0) };
  const answer = out instanceof CloudEvent ? out : new CloudEvent({ type: `${event.type}.result`, source: `meridian/worker/${workerId}`, data: out });
  const msg = HTTP.binary(answer);
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(msg.headers)) if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  const b = msg.body;
  const buf = Buffer.isBuffer(b) ? b : typeof b === 'string' ? Buffer.from(b, 'utf8') : b === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(b), 'utf8');
  return { status: 200, headers: h, body: buf };
}

function text(status: number, message: string): HttpLike {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from(message, 'utf8') };
}
