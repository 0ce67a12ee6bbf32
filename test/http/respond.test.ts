// src/http/respond.ts and the one code→status table, against a real node:http server.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { ErrorCode, HTTP_STATUS, MeridianError, httpStatus } from '../../src/errors/mod.js';
import { errorBody, refuseUpgrade, sendError, sendFailure, sendJson } from '../../src/http/respond.js';
import { RequestError } from '../../src/protocol/codes.js';
import type { RequestErrorName } from '../../src/protocol/codes.js';
import { get, rawExchange, serve } from './server.js';
import type { TestServer } from './server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('the code list and its status table', () => {
  it('gives every ErrorCode an HTTP error status', () => {
    for (const code of Object.values(ErrorCode)) {
      const status = HTTP_STATUS[code];
      expect(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`).toBe(true);
    }
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...Object.values(ErrorCode)].sort());
    expect(httpStatus('A_CODE_FROM_A_NEWER_PEER')).toBe(500);
  });

  it('holds every wire request error name, spelled the same, so the node answers HTTP with them', () => {
    // Type level: a RequestErrorName is an ErrorCode (this line fails to compile otherwise).
    const names: readonly ErrorCode[] = Object.keys(RequestError) as RequestErrorName[];
    const codes = new Set<string>(Object.values(ErrorCode));
    for (const name of names) expect(codes.has(name), name).toBe(true);
    // The statuses the node's HTTP API always answered these with.
    expect([HTTP_STATUS.BAD_FRAME, HTTP_STATUS.INVALID_FIELD, HTTP_STATUS.FRAME_TOO_LARGE, HTTP_STATUS.FORBIDDEN, HTTP_STATUS.NOT_FOUND, HTTP_STATUS.DUPLICATE_GONE, HTTP_STATUS.RATE_LIMITED, HTTP_STATUS.UNAVAILABLE, HTTP_STATUS.TIMEOUT, HTTP_STATUS.NOT_SUPPORTED, HTTP_STATUS.INTERNAL_ERROR]).toEqual([400, 400, 413, 403, 404, 409, 429, 503, 504, 501, 500]);
  });

  it('never gives two members the same code', () => {
    const values = Object.values(ErrorCode);
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('answers', () => {
  it('sends typed errors as { error: { code, message, details? } } with the given status and headers', async () => {
    server = await serve((req, res) => {
      if (req.url === '/plain') return sendError(res, 405, ErrorCode.MethodNotAllowed, 'takes GET', undefined, { allow: 'GET' });
      if (req.url === '/empty-details') return sendError(res, 400, ErrorCode.InvalidField, 'bad', {});
      sendError(res, 404, ErrorCode.SvcUnknownService, 'no service x', { service: 'x' });
    });
    const plain = await fetch(`${server.url}/plain`);
    expect(plain.status).toBe(405);
    expect(plain.headers.get('allow')).toBe('GET');
    expect(plain.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(plain.headers.get('cache-control')).toBe('no-store');
    expect(await plain.json()).toEqual({ error: { code: 'METHOD_NOT_ALLOWED', message: 'takes GET' } });
    expect(await (await fetch(`${server.url}/empty-details`)).json()).toEqual({ error: { code: 'INVALID_FIELD', message: 'bad' } });
    expect(await (await fetch(`${server.url}/details`)).json()).toEqual({ error: { code: 'SVC_UNKNOWN_SERVICE', message: 'no service x', details: { service: 'x' } } });
  });

  it('answers a thrown failure with the status of its code, Retry-After on 503, and hides untyped ones', async () => {
    server = await serve((req, res) => {
      if (req.url === '/busy') return sendFailure(res, new MeridianError(ErrorCode.SvcNoEndpoints, 'nobody serves x', { details: { service: 'x' } }), { retryAfterS: 2, headers: { 'x-meridian-via': 'eu' } });
      if (req.url === '/loop') return sendFailure(res, new MeridianError(ErrorCode.SvcLoopDetected, 'looped'), { retryAfterS: 2 });
      if (req.url === '/custom') return sendFailure(res, new Error('secret internals'), { internal: { code: ErrorCode.SvcUpstreamFailed, message: 'internal error in the services module' } });
      sendFailure(res, new TypeError('secret internals'));
    });
    const busy = await fetch(`${server.url}/busy`);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('2');
    expect(busy.headers.get('x-meridian-via')).toBe('eu');
    expect(await busy.json()).toEqual({ error: { code: 'SVC_NO_ENDPOINTS', message: 'nobody serves x', details: { service: 'x' } } });
    const loop = await fetch(`${server.url}/loop`);
    expect(loop.status).toBe(508);
    expect(loop.headers.get('retry-after')).toBeNull();
    const untyped = await fetch(`${server.url}/untyped`);
    expect(untyped.status).toBe(500);
    const text = await untyped.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'the server failed to handle this request' } });
    expect(text).not.toContain('secret');
    expect(await (await fetch(`${server.url}/custom`)).json()).toEqual({ error: { code: 'SVC_UPSTREAM_FAILED', message: 'internal error in the services module' } });
  });

  it('adds nothing to an answer already sent, and the connection goes on', async () => {
    server = await serve((req, res) => {
      sendJson(res, 200, { first: true });
      // A late failure (the node's bus-loss 503 raced the handler): ignored, not a second answer.
      sendError(res, 503, ErrorCode.Unavailable, 'too late');
    });
    const { answers, ended } = await rawExchange(server.port, [get('/a'), get('/b')]);
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, '{"first":true}'],
      [200, '{"first":true}'],
    ]);
    expect(ended).toBe('open');
  });

  it('cuts a body already under way rather than appending an error to it', async () => {
    server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part of a body');
      sendError(res, 502, ErrorCode.EdgeUpstreamFailed, 'the upstream failed');
    });
    // Whether the head left before the cut or not, the client must see a failed transfer.
    const outcome = await fetch(`${server.url}/`)
      .then((r) => r.text())
      .then(
        (t) => `complete: ${t}`,
        () => 'failed',
      );
    expect(outcome).toBe('failed');
  });

  it('refuses a WebSocket upgrade with a plain HTTP answer and closes', async () => {
    server = await serve(
      () => undefined,
      (_req, socket) => refuseUpgrade(socket, 429, ErrorCode.RateLimited, 'too many upgrades', { 'Retry-After': '3' }),
    );
    const { port } = server;
    const answer = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path: '/ws', headers: { connection: 'upgrade', upgrade: 'websocket' } });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('3');
    expect(answer.headers['connection']).toBe('close');
    expect(JSON.parse(answer.body)).toEqual(errorBody(ErrorCode.RateLimited, 'too many upgrades'));
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'RATE_LIMITED', message: 'too many upgrades' } });
  });
});
