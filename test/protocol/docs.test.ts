/**
 * docs/protocol.md is the contract: every ```json client / ```json server example in it must be
 * a frame the module accepts in that direction, and every frame type must have an example.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_FRAME_TYPES, CloseCode, RequestError, SERVER_FRAME_TYPES, parseClientFrame, parseServerFrame } from '../../src/protocol/mod.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const examples = [...doc.matchAll(/```json (client|server)\n([\s\S]*?)```/g)].map((m) => ({ side: m[1] ?? '', text: m[2] ?? '' }));

describe('docs/protocol.md', () => {
  it.each(examples.map((e, i) => [i, e.side, e.text.slice(0, 50).replace(/\s+/g, ' '), e] as const))('example %i (%s) %s is a valid frame', (_i, _s, _t, e) => {
    const r = e.side === 'client' ? parseClientFrame(e.text) : parseServerFrame(e.text);
    expect(r).toMatchObject({ ok: true });
  });

  it('has an example of every frame type in both directions', () => {
    const types = (side: string): Set<string> => new Set(examples.filter((e) => e.side === side).map((e) => (JSON.parse(e.text) as { type: string }).type));
    expect(types('client')).toEqual(new Set(CLIENT_FRAME_TYPES));
    expect(types('server')).toEqual(new Set(SERVER_FRAME_TYPES));
  });

  it('lists every error and close code with its name', () => {
    for (const [name, code] of [...Object.entries(RequestError), ...Object.entries(CloseCode)]) {
      expect(doc).toMatch(new RegExp(`\\| ${code} \\| ${name} \\|`));
    }
  });
});
