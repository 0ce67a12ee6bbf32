/**
 * Every frame type round-trips through encode/parse in both directions, and every way a client
 * frame can be wrong is answered with the right code, ref and path.
 */
import { describe, expect, it } from 'vitest';
import {
  CLIENT_FRAME_TYPES,
  DEFAULT_LIMITS,
  RequestError,
  SERVER_FRAME_TYPES,
  dmConversation,
  encodeClientFrame,
  encodeServerFrame,
  parseClientFrame,
  parseServerFrame,
  resolveLimits,
} from '../../src/protocol/mod.js';
import type { RequestErrorName } from '../../src/protocol/mod.js';
import { clientFrames, serverFrames } from './fixtures.js';

describe('round trips', () => {
  it('fixtures cover every client and server frame type', () => {
    expect(new Set(clientFrames.map((f) => f.type))).toEqual(new Set(CLIENT_FRAME_TYPES));
    expect(new Set(serverFrames.map((f) => f.type))).toEqual(new Set(SERVER_FRAME_TYPES));
  });

  it.each(clientFrames.map((f) => [`${f.type} ${JSON.stringify(f).slice(0, 60)}`, f] as const))('client frame %s parses back to itself', (_n, frame) => {
    const text = encodeClientFrame(frame);
    expect(parseClientFrame(text)).toEqual({ ok: true, frame });
    expect(parseClientFrame(Buffer.from(text))).toEqual({ ok: true, frame });
  });

  it.each(serverFrames.map((f) => [`${f.type} ${JSON.stringify(f).slice(0, 60)}`, f] as const))('server frame %s parses back to itself', (_n, frame) => {
    expect(parseServerFrame(encodeServerFrame(frame))).toEqual({ ok: true, frame });
  });

  it('a client ignores unknown fields and reports unknown server frame types as ignorable', () => {
    expect(parseServerFrame('{"type":"ok","ref":"x","future":1}')).toEqual({ ok: true, frame: { type: 'ok', ref: 'x' } });
    expect(parseServerFrame('{"type":"hologram","x":1}')).toMatchObject({ ok: false, ignorable: true });
    expect(parseServerFrame('{"type":"ack","ref":"x"}')).toMatchObject({ ok: false, ignorable: false });
    expect(parseServerFrame('nope')).toMatchObject({ ok: false, ignorable: false });
    expect(parseServerFrame(Buffer.from([0xff, 0xfe]))).toMatchObject({ ok: false, ignorable: false });
  });
});

const dm = dmConversation('alice', 'bob');
const big = 'x'.repeat(DEFAULT_LIMITS.maxFrameBytes);

// [what, input, code name, ref, path]
const invalid: [string, string | Uint8Array, RequestErrorName, string | undefined, string | undefined][] = [
  ['not JSON', '{"type":"send","id":"s1",', 'BAD_FRAME', 's1', undefined],
  ['not JSON, id after a nested value', '{"to":{"user":"b"},"id":"s1",', 'BAD_FRAME', undefined, undefined],
  ['invalid UTF-8', Buffer.concat([Buffer.from('{"id":"u1","type":"heartbeat","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 'BAD_FRAME', 'u1', undefined],
  ['a JSON array', '[1,2]', 'BAD_FRAME', undefined, undefined],
  ['JSON null', 'null', 'BAD_FRAME', undefined, undefined],
  ['empty input', '', 'BAD_FRAME', undefined, undefined],
  ['missing type', '{"id":"x1"}', 'INVALID_FIELD', 'x1', 'type'],
  ['non-string type', '{"id":"x1","type":7}', 'INVALID_FIELD', 'x1', 'type'],
  ['unknown type', '{"id":"x1","type":"teleport"}', 'UNKNOWN_TYPE', 'x1', 'type'],
  ['prototype key as type', '{"id":"x1","type":"__proto__"}', 'UNKNOWN_TYPE', 'x1', 'type'],
  ['oversized string frame', `{"type":"send","id":"big1","body":"${big}"}`, 'FRAME_TOO_LARGE', 'big1', undefined],
  ['oversized buffer frame', Buffer.from(`{"id":"big2","type":"send","body":"${big}"}`), 'FRAME_TOO_LARGE', 'big2', undefined],
  ['oversized by multi-byte characters only', `{"id":"big3","type":"heartbeat","x":"${'é'.repeat(DEFAULT_LIMITS.maxFrameBytes / 2)}"}`, 'FRAME_TOO_LARGE', 'big3', undefined],
  ['missing id on send', '{"type":"send","to":{"user":"b"},"body":1,"clientMsgId":"c"}', 'INVALID_FIELD', undefined, 'id'],
  ['empty id', '{"type":"join","id":"","room":"r"}', 'INVALID_FIELD', undefined, 'id'],
  ['id too long', `{"type":"join","id":"${'i'.repeat(65)}","room":"r"}`, 'INVALID_FIELD', undefined, 'id'],
  ['numeric id', '{"type":"join","id":5,"room":"r"}', 'INVALID_FIELD', undefined, 'id'],
  ['unknown field', '{"type":"join","id":"j","room":"r","colour":"red"}', 'INVALID_FIELD', 'j', 'colour'],
  ['unknown nested field', '{"type":"send","id":"s","to":{"user":"b","cc":"c"},"body":1,"clientMsgId":"c"}', 'INVALID_FIELD', 's', 'to.cc'],
  ['both to.user and to.room', '{"type":"send","id":"s","to":{"user":"b","room":"r"},"body":1,"clientMsgId":"c"}', 'INVALID_FIELD', 's', 'to'],
  ['neither to.user nor to.room', '{"type":"send","id":"s","to":{},"body":1,"clientMsgId":"c"}', 'INVALID_FIELD', 's', 'to'],
  ['wrong-typed to.user', '{"type":"send","id":"s","to":{"user":42},"body":1,"clientMsgId":"c"}', 'INVALID_FIELD', 's', 'to.user'],
  ['user id with a control character', '{"type":"send","id":"s","to":{"user":"b\\n"},"body":1,"clientMsgId":"c"}', 'INVALID_FIELD', 's', 'to.user'],
  ['user id with a lone surrogate', '{"type":"send","id":"s","to":{"user":"b\\ud800"},"body":1,"clientMsgId":"c"}', 'INVALID_FIELD', 's', 'to.user'],
  ['user id too long', `{"type":"send","id":"s","to":{"user":"${'u'.repeat(121)}"},"body":1,"clientMsgId":"c"}`, 'INVALID_FIELD', 's', 'to.user'],
  ['missing body', '{"type":"send","id":"s","to":{"user":"b"},"clientMsgId":"c"}', 'INVALID_FIELD', 's', 'body'],
  ['missing clientMsgId', '{"type":"send","id":"s","to":{"user":"b"},"body":1}', 'INVALID_FIELD', 's', 'clientMsgId'],
  ['body too large', `{"type":"send","id":"s","to":{"user":"b"},"body":"${'b'.repeat(DEFAULT_LIMITS.maxBodyBytes)}","clientMsgId":"c"}`, 'BODY_TOO_LARGE', 's', 'body'],
  ['body nested too deep', `{"type":"send","id":"s","to":{"user":"b"},"body":${'['.repeat(33)}${']'.repeat(33)},"clientMsgId":"c"}`, 'INVALID_FIELD', 's', 'body'],
  ['auth with token and user', '{"type":"auth","id":"a","token":"t","user":"u"}', 'INVALID_FIELD', 'a', undefined],
  ['auth with neither', '{"type":"auth","id":"a"}', 'INVALID_FIELD', 'a', undefined],
  ['non-canonical conversation', '{"type":"read","id":"r","conversation":"dm:bob:alice","seq":1}', 'INVALID_FIELD', 'r', 'conversation'],
  ['seq zero on delivery_ack', `{"type":"delivery_ack","id":"d","conversation":"${dm}","seq":0}`, 'INVALID_FIELD', 'd', 'seq'],
  ['fractional seq', `{"type":"read","id":"r","conversation":"${dm}","seq":1.5}`, 'INVALID_FIELD', 'r', 'seq'],
  ['string seq', `{"type":"read","conversation":"${dm}","seq":"1"}`, 'INVALID_FIELD', undefined, 'seq'],
  ['resume with no positions', '{"type":"resume","id":"r","positions":{}}', 'INVALID_FIELD', 'r', 'positions'],
  ['resume with a bad conversation key', '{"type":"resume","id":"r","positions":{"chan:x":1}}', 'INVALID_FIELD', 'r', 'positions.chan:x'],
  ['resume with a negative position', `{"type":"resume","id":"r","positions":{"${dm}":-1}}`, 'INVALID_FIELD', 'r', `positions.${dm}`],
  ['retransmit with toSeq < fromSeq', `{"type":"retransmit","id":"t","conversation":"${dm}","fromSeq":5,"toSeq":4}`, 'BAD_SEQUENCE', 't', 'toSeq'],
  ['retransmit from seq 0', `{"type":"retransmit","id":"t","conversation":"${dm}","fromSeq":0}`, 'INVALID_FIELD', 't', 'fromSeq'],
  ['presence_query for both', '{"type":"presence_query","id":"p","user":"a","room":"r"}', 'INVALID_FIELD', 'p', undefined],
];

describe('invalid client frames', () => {
  it.each(invalid)('%s → the right code, ref and path', (_what, input, name, ref, path) => {
    const r = parseClientFrame(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ type: 'error', name, code: RequestError[name] });
    expect(r.error.ref).toBe(ref);
    expect(r.ref).toBe(ref);
    expect(r.error.path).toBe(path);
    expect(parseServerFrame(JSON.stringify(r.error))).toEqual({ ok: true, frame: r.error });
    if (path !== undefined) expect(r.error.message.startsWith(`${path}: `)).toBe(true);
  });

  it('names the wrong-typed field and the expected type in the message', () => {
    const r = parseClientFrame('{"type":"join","id":"j","room":7}');
    expect(r).toMatchObject({ ok: false, error: { message: 'room: expected string, received number' } });
  });

  it('refuses resume naming more conversations than the limit', () => {
    const limits = resolveLimits({ maxResumeConversations: 2 });
    const positions = Object.fromEntries(['a', 'b', 'c'].map((u) => [dmConversation('me', u), 1]));
    const r = parseClientFrame(JSON.stringify({ type: 'resume', id: 'r', positions }), limits);
    expect(r).toMatchObject({ ok: false, error: { name: 'INVALID_FIELD', path: 'positions' } });
    expect(parseClientFrame(JSON.stringify({ type: 'resume', id: 'r', positions }))).toMatchObject({ ok: true });
  });

  it('applies custom limits to frame and body sizes', () => {
    const limits = resolveLimits({ maxFrameBytes: 200, maxBodyBytes: 10 });
    const frame = { type: 'send', id: 's', to: { user: 'b' }, body: 'x'.repeat(8), clientMsgId: 'c' }; // 10 bytes of JSON with the quotes
    expect(parseClientFrame(JSON.stringify(frame), limits)).toMatchObject({ ok: true });
    expect(parseClientFrame(JSON.stringify({ ...frame, body: 'x'.repeat(20) }), limits)).toMatchObject({ ok: false, error: { name: 'BODY_TOO_LARGE' } });
    expect(parseClientFrame(JSON.stringify({ ...frame, body: 'x'.repeat(300) }), limits)).toMatchObject({ ok: false, error: { name: 'FRAME_TOO_LARGE', ref: 's' } });
  });

  it('accepts a frame of exactly the maximum size', () => {
    const limits = resolveLimits({ maxFrameBytes: 100 });
    const base = '{"type":"heartbeat","id":"h","ts":1}';
    const exact = base.slice(0, -1) + ' '.repeat(100 - base.length) + '}';
    expect(Buffer.byteLength(exact)).toBe(100);
    expect(parseClientFrame(exact, limits)).toMatchObject({ ok: true });
    expect(parseClientFrame(exact + ' ', limits)).toMatchObject({ ok: false, error: { name: 'FRAME_TOO_LARGE', ref: 'h' } });
  });
});
