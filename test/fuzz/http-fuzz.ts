/**
 * HTTP fuzzing of a running region node (with the services module): seeded random requests to
 * every route — methods, paths with junk segments, every kind of credential, content types and
 * bodies (random, deep, huge, invalid UTF-8) — and the rules every answer must follow:
 *   - never a 5xx except the documented ones (502/503/504 from the service mesh, 508 loops);
 *   - every error body is `{ error: { code, message } }` with a string code;
 *   - /health answers throughout (checked every `healthEvery` requests).
 * A failing request is returned (and saved by the CLI) so it can be replayed as a regression.
 */
import { request } from 'node:http';
import { rng } from '../protocol/prng.js';
import type { Rng } from '../protocol/prng.js';

export interface FuzzTarget {
  /** Base URL of the node, http://127.0.0.1:PORT. */
  readonly url: string;
  readonly adminToken: string;
  readonly workerToken: string;
  /** An API key with the `erase` scope only (src/keys). */
  readonly eraseKey: string;
  /** Valid and expired client tokens to mix in. */
  readonly userToken: string;
  readonly expiredToken: string;
}

export interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  /** Body as base64 (bytes may be invalid UTF-8). */
  readonly body: string;
}

export interface FuzzFailure {
  readonly request: FuzzRequest;
  readonly status: number;
  readonly reason: string;
}

/** 5xx the mesh documents (docs/services.md): no endpoint, upstream failure, timeout, loop. */
const DOCUMENTED_5XX = new Set([502, 503, 504, 508]);

const ROUTES = [
  '/', '/health', '/ready', '/ws', '/metrics', '/stats', '/v1/slo', '/v1/regions', '/v1/messages',
  '/v1/presence/{id}', '/v1/rooms/{id}/presence', '/v1/conversations/{conv}/messages',
  '/v1/workers', '/v1/workers/{id}', '/v1/workers/{id}/heartbeat',
  '/v1/services', '/v1/services/{id}', '/v1/services/{id}/endpoints', '/v1/services/{id}/{id}',
  '/v1/functions', '/v1/functions/{id}', '/v1/invocations/{id}',
  '/v1/dlq', '/v1/dlq/{id}', '/v1/dlq/{id}/replay', '/v1/admin/drain', '/v1/audit',
  '/v1/erasures', '/v1/erasures/{erasure}', '/v1/erasures/keys', '/v1/nope', '/v2/x',
];
/** Erasure ids: well-formed (unknown: 404), malformed (400), junk. */
const ERASURE_IDS = ['er_AAAAAAAAAAAAAAAAAAAAAAAA', 'er_short', 'er_' + 'x'.repeat(70), 'keys', 'er_%zz', '%00'];
const SEGMENTS = ['alice', 'bob', 'echo', 'f', 'x', '', '..', '%2e%2e', '%', '%zz', '%E0%A4%A', 'a'.repeat(300), '~', 'dm:alice:bob', 'room:r', '%00', 'ü', '*', '>', '.', 'a.b'];
const METHODS = ['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
const TYPES = ['application/json', 'application/cloudevents+json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1'];
const QUERIES = ['', '?after=0&limit=10', '?limit=-1', '?limit=99999999999', '?after=x', '?from=mars', '?function=f&limit=a', '?a=%zz', '?before=x&action=auth.refused', '?limit=0', '?limit=3&action='];

function randomJson(r: Rng, depth: number): unknown {
  switch (r.int(depth > 4 ? 6 : 9)) {
    case 0: return null;
    case 1: return r.next() < 0.5;
    case 2: return r.pick([0, -1, 1.5, 1e308, 2 ** 53 + 2, 42]);
    case 3: return r.pick(['', 'alice', 'x'.repeat(500), '\u0000', 'http://127.0.0.1:1/', 'http://169.254.169.254/', 'send']);
    case 4: return r.pick(['id', 'services', 'functions', 'url', 'to', 'body', 'clientMsgId', 'inFlight']);
    case 5: return [];
    case 6: return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    default: {
      const keys = ['id', 'region', 'services', 'functions', 'name', 'url', 'weight', 'meta', 'to', 'user', 'room', 'from', 'body', 'clientMsgId', 'inFlight', 'specversion', 'type', 'source', 'data', '__proto__', 'constructor'];
      const o: Record<string, unknown> = {};
      for (let i = r.int(6); i > 0; i--) o[r.pick(keys)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

const ERASURE_BODIES = ['{"user":"alice"}', '{"conversation":"dm:alice:bob"}', '{"conversation":"room:r"}', '{"user":"a","conversation":"room:r"}', '{"user":""}', '{"conversation":"dm:bob:alice"}', '{"user":"alice","why":1}'];

function body(r: Rng, path: string): Buffer {
  // Erasure requests mostly get erasure-shaped bodies, so the handler behind the checks runs.
  if (path.startsWith('/v1/erasures') && r.next() < 0.6) return Buffer.from(r.pick(ERASURE_BODIES));
  switch (r.int(9)) {
    case 0: return Buffer.alloc(0);
    case 1: return Buffer.from('{"a":'.repeat(2000) + '1' + '}'.repeat(2000));
    case 2: return Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x7b]);
    case 3: return Buffer.from(`{"id":"w${r.int(5)}","services":[{"name":"echo","url":"${r.pick(['http://127.0.0.1:1', 'http://169.254.169.254', 'http://10.0.0.1', 'ftp://x', 'http://metadata.google.internal'])}"}]}`);
    case 4: return Buffer.from(JSON.stringify({ to: { user: 'bob' }, body: randomJson(r, 0), clientMsgId: `k${r.int(50)}`, from: 'alice' }));
    case 5: return Buffer.from('x'.repeat(r.int(3) === 0 ? 200_000 : 100));
    case 6: return Buffer.from(r.pick(ERASURE_BODIES));
    default: return Buffer.from(JSON.stringify(randomJson(r, 0)));
  }
}

export function generate(r: Rng, t: FuzzTarget): FuzzRequest {
  let path = r.pick(ROUTES);
  while (path.includes('{')) {
    path = path.replace(/\{(id|conv|erasure)\}/, (_m, kind: string) => (kind === 'conv' ? r.pick(['dm:alice:bob', 'room:r', 'bad', '%zz']) : kind === 'erasure' ? r.pick(ERASURE_IDS) : encodeURIComponentMaybe(r, r.pick(SEGMENTS))));
  }
  path += r.pick(QUERIES);
  const headers: Record<string, string> = {};
  switch (r.int(10)) {
    case 0: headers['authorization'] = `Bearer ${t.adminToken}`; break;
    case 1: headers['authorization'] = `Bearer ${t.workerToken}`; break;
    case 2: headers['authorization'] = `Bearer ${t.userToken}`; break;
    case 3: headers['authorization'] = `Bearer ${t.expiredToken}`; break;
    case 4: headers['authorization'] = r.pick(['Bearer', 'Basic YTpi', 'Bearer a b', `Bearer ${'x'.repeat(9000)}`]); break;
    case 5: headers['authorization'] = `Bearer ${t.eraseKey}`; break;
    // Key-shaped but unknown (a revoked key looks like this): 401, never tried as a JWT.
    case 6: headers['authorization'] = `Bearer ${t.eraseKey.slice(0, -2)}${t.eraseKey.endsWith('AA') ? 'BB' : 'AA'}`; break;
    default: break;
  }
  const type = r.pick(TYPES);
  if (type !== '') headers['content-type'] = type;
  if (r.int(6) === 0) {
    Object.assign(headers, { 'ce-specversion': '1.0', 'ce-id': `i${r.int(100)}`, 'ce-source': '/fuzz', 'ce-type': r.pick(['t', '']) });
  }
  if (r.int(10) === 0) headers['prefer'] = 'respond-async';
  if (r.int(10) === 0) headers['via'] = r.pick(['1.1 meridian-solo', '1.1 x, 1.1 meridian-solo']);
  if (r.int(12) === 0) headers['origin'] = r.pick(['https://evil.example', 'null']);
  // Draining with the real admin token works (and ends the run): only its refusals are fuzzed.
  if (path.startsWith('/v1/admin/') && headers['authorization'] === `Bearer ${t.adminToken}`) delete headers['authorization'];
  const method = r.pick(METHODS);
  return { method, path, headers, body: method === 'GET' || method === 'HEAD' ? '' : body(r, path).toString('base64') };
}

function encodeURIComponentMaybe(r: Rng, s: string): string {
  // Raw junk sometimes (the server must cope with what it gets), encoded otherwise.
  return r.next() < 0.3 ? s : encodeURIComponent(s);
}

export interface Answer {
  readonly status: number;
  readonly body: Buffer;
  readonly contentType: string;
}

/** Send one request; resolves with the answer, or status 0 when the connection failed. */
export function send(base: string, q: FuzzRequest, timeoutMs = 10_000): Promise<Answer> {
  const u = new URL(base);
  const payload = Buffer.from(q.body, 'base64');
  return new Promise((resolve) => {
    const req = request(
      { host: u.hostname, port: u.port, path: q.path, method: q.method, headers: { ...q.headers, 'content-length': String(payload.length) }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), contentType: String(res.headers['content-type'] ?? '') }));
        res.on('error', () => resolve({ status: 0, body: Buffer.alloc(0), contentType: '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    // A refused large upload may be answered and cut before the body is read: that is fine.
    req.on('error', () => resolve({ status: -1, body: Buffer.alloc(0), contentType: '' }));
    req.end(payload);
  });
}

/** Why an answer breaks the rules, or undefined. */
export function judge(q: FuzzRequest, a: Answer): string | undefined {
  if (a.status === 0) return 'no answer (timeout or reset after headers)';
  if (a.status === -1) return payloadRefusal(q) ? undefined : 'connection failed';
  if (a.status >= 500 && !DOCUMENTED_5XX.has(a.status)) return `undocumented ${a.status}: ${a.body.toString('utf8').slice(0, 200)}`;
  // /ready answers 503 with its own documented body ({ ready, reason }).
  if (a.status >= 400 && q.method !== 'HEAD' && a.contentType.startsWith('application/json') && !q.path.startsWith('/ready')) {
    try {
      const e = (JSON.parse(a.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } }).error;
      if (typeof e?.code !== 'string' || typeof e.message !== 'string') return `error body without code/message: ${a.body.toString('utf8').slice(0, 200)}`;
    } catch {
      return 'error body is not JSON';
    }
  }
  return undefined;
}

/** A large body the server may refuse (413 and close) before reading it all. */
function payloadRefusal(q: FuzzRequest): boolean {
  return q.body.length > 100_000;
}

export interface FuzzReport {
  readonly requests: number;
  readonly statuses: Record<string, number>;
  readonly failures: FuzzFailure[];
}

/** `count` seeded requests, /health checked every `healthEvery`. Stops at the first 20 failures. */
export async function fuzzHttp(t: FuzzTarget, opts: { seed: number; count: number; healthEvery?: number; concurrency?: number }): Promise<FuzzReport> {
  const r = rng(opts.seed);
  const statuses: Record<string, number> = {};
  const failures: FuzzFailure[] = [];
  const every = opts.healthEvery ?? 250;
  const concurrency = opts.concurrency ?? 8;
  let done = 0;
  const batch: FuzzRequest[] = [];
  while (done < opts.count && failures.length < 20) {
    batch.length = 0;
    for (let i = 0; i < concurrency && done + i < opts.count; i++) batch.push(generate(r, t));
    const answers = await Promise.all(batch.map((q) => send(t.url, q)));
    answers.forEach((a, i) => {
      const q = batch[i]!;
      statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      const reason = judge(q, a);
      if (reason !== undefined) failures.push({ request: q, status: a.status, reason });
    });
    const before = done;
    done += batch.length;
    if (Math.floor(before / every) !== Math.floor(done / every)) {
      const h = await send(t.url, { method: 'GET', path: '/health', headers: {}, body: '' }, 3000);
      if (h.status !== 200) failures.push({ request: { method: 'GET', path: '/health', headers: {}, body: '' }, status: h.status, reason: `/health did not answer 200 after ${done} requests` });
    }
  }
  return { requests: done, statuses, failures };
}
