// src/http/body.ts against a real node:http server: limits while reading, a refused body drained
// (never destroyed: a keep-alive client's next request survives), bounded JSON depth.
import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../src/errors/mod.js';
import { decodePart, readBody, readBodyOrRefuse, readJson } from '../../src/http/body.js';
import { sendFailure, sendJson } from '../../src/http/respond.js';
import { get, post, postChunked, rawExchange, serve } from './server.js';
import type { TestServer } from './server.js';

const LIMIT = { bytes: 64, code: ErrorCode.FrameTooLarge, message: 'the body exceeds 64 bytes' };

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** /read: readBody then sendFailure; /refuse: readBodyOrRefuse; /json: readJson; anything else 200. */
async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url ?? '/';
  try {
    if (path === '/read') {
      const body = await readBody(req, LIMIT);
      return sendJson(res, 200, { bytes: body.length });
    }
    if (path === '/refuse') {
      const body = await readBodyOrRefuse(req, res, LIMIT);
      if (body !== undefined) sendJson(res, 200, { bytes: body.length });
      return;
    }
    if (path === '/json') return sendJson(res, 200, { value: await readJson(req, { bytes: 1 << 20, code: ErrorCode.SvcBodyTooLarge }) });
    if (path.startsWith('/part/')) return sendJson(res, 200, { part: decodePart(path.slice('/part/'.length)) });
    sendJson(res, 200, { ok: true });
  } catch (err) {
    sendFailure(res, err);
  }
}

describe('readBody', () => {
  it('returns a body within the limit', async () => {
    server = await serve(handler);
    const r = await fetch(`${server.url}/read`, { method: 'POST', body: 'x'.repeat(64) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ bytes: 64 });
  });

  it('refuses a declared oversize body with 413 and keeps the connection for the next request', async () => {
    server = await serve(handler);
    const { answers, ended } = await rawExchange(server.port, [post('/read', 'x'.repeat(65)), get('/next')]);
    expect(answers.map((a) => a.status)).toEqual([413, 200]);
    expect(JSON.parse(answers[0]!.body)).toEqual({ error: { code: 'FRAME_TOO_LARGE', message: 'the body exceeds 64 bytes', details: { limitBytes: 64 } } });
    expect(ended).toBe('open');
  });

  it('refuses a chunked body once it crosses the limit, drains the rest and answers the next request on the same socket', async () => {
    server = await serve(handler);
    // 100 KiB, so the body is still arriving when the limit is crossed.
    const { answers, ended } = await rawExchange(server.port, [postChunked('/read', 'x'.repeat(100 * 1024)), get('/next')]);
    expect(answers.map((a) => a.status)).toEqual([413, 200]);
    expect(ended).toBe('open');
  });
});

describe('readBodyOrRefuse', () => {
  it('answers a declared oversize body itself and keeps the connection', async () => {
    server = await serve(handler);
    const { answers, ended } = await rawExchange(server.port, [post('/refuse', 'x'.repeat(65)), get('/next')]);
    expect(answers.map((a) => a.status)).toEqual([413, 200]);
    expect(JSON.parse(answers[0]!.body)).toEqual({ error: { code: 'FRAME_TOO_LARGE', message: 'the body exceeds 64 bytes' } });
    expect(answers[0]!.headers['connection']).toBe('keep-alive');
    expect(ended).toBe('open');
  });

  it('answers one found too large while reading with Connection: close, a clean end rather than a reset', async () => {
    server = await serve(handler);
    const { answers, ended } = await rawExchange(server.port, [postChunked('/refuse', 'x'.repeat(100 * 1024))]);
    expect(answers.map((a) => a.status)).toEqual([413]);
    expect(answers[0]!.headers['connection']).toBe('close');
    expect(ended).toBe('closed');
  });

  it('leaves a keep-alive client able to go on after its 413 (fetch)', async () => {
    server = await serve(handler);
    const big = await fetch(`${server.url}/refuse`, { method: 'POST', body: 'x'.repeat(100 * 1024) });
    expect(big.status).toBe(413);
    await big.body?.cancel();
    const chunked = await fetch(`${server.url}/refuse`, {
      method: 'POST',
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('x'.repeat(100 * 1024)));
          c.close();
        },
      }),
      duplex: 'half',
    });
    expect(chunked.status).toBe(413);
    await chunked.body?.cancel();
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/next`)).status).toBe(200);
  });
});

describe('readJson', () => {
  it('answers a 5,000-deep body 400 INVALID_ARGUMENT before anything recurses, and the server goes on', async () => {
    server = await serve(handler);
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const r = await fetch(`${server.url}/json`, { method: 'POST', body: deep });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INVALID_ARGUMENT');
    expect(body.error.message).toContain('nested deeper than 32 levels');
    expect((await fetch(`${server.url}/json`, { method: 'POST', body: '{"a":[1,{"b":2}]}' })).status).toBe(200);
  });

  it('parses JSON, reads an empty body as undefined and refuses what is not JSON', async () => {
    server = await serve(handler);
    expect(await (await fetch(`${server.url}/json`, { method: 'POST', body: '{"a":[1,2]}' })).json()).toEqual({ value: { a: [1, 2] } });
    expect(await (await fetch(`${server.url}/json`, { method: 'POST' })).json()).toEqual({});
    const bad = await fetch(`${server.url}/json`, { method: 'POST', body: '{"a":' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'INVALID_ARGUMENT', message: 'the body is not valid JSON' } });
  });
});

describe('decodePart', () => {
  it('decodes a path segment and answers a malformed escape 400', async () => {
    server = await serve(handler);
    expect(await (await fetch(`${server.url}/part/a%20b`)).json()).toEqual({ part: 'a b' });
    const bad = await fetch(`${server.url}/part/%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
  });
});
