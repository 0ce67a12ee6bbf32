/**
 * Structure-aware client frames generated from the protocol's zod schemas
 * (`clientFrameSchemas(limits)`), not from a hand-written list: every frame type the protocol
 * defines is generated, and a new type or field gets fuzzed without touching this file. The walk
 * knows the zod node kinds the schemas use today (object, literal, string, number, enum, record,
 * optional, custom) and throws on any other, so a schema that grows a new kind fails the suite
 * instead of being fuzzed with nothing. Values come from per-field pools, mostly valid (so frames
 * reach the handlers behind the parser), sometimes just wrong (so the parser's refusals run too).
 */
import { clientFrameSchemas } from '../../src/protocol/mod.js';
import type { ClientFrameType, ProtocolLimits } from '../../src/protocol/mod.js';
import type { Rng } from '../protocol/prng.js';

/** The part of a zod v4 definition the walk reads (`schema.def`). */
interface Def {
  readonly type: string;
  readonly shape?: Readonly<Record<string, { readonly def: Def }>>;
  readonly innerType?: { readonly def: Def };
  readonly values?: readonly unknown[];
  readonly entries?: Readonly<Record<string, string>>;
  readonly keyType?: { readonly def: Def };
  readonly valueType?: { readonly def: Def };
}

interface Pool {
  readonly good: readonly unknown[];
  readonly bad: readonly unknown[];
}

const IDS: Pool = { good: ['alice', 'bob', 'carol', 'team-1', 'r', 'x:y%z', 'ü'], bad: ['', 'a b', 'a'.repeat(300), '\u0000', 'dm:alice:bob', 7] };
const REFS: Pool = { good: ['a', 'x1', 'k-1', 'k-2', 'k-3', 'end-ish'], bad: ['', 'x'.repeat(300), 'a\u0001', 12, null] };
const CONVERSATIONS: Pool = { good: ['dm:alice:bob', 'dm:alice:carol', 'room:team-1', 'room:r'], bad: ['dm:bob:alice', 'dm:alice', 'room:', 'x', '', 'room:a b', 3] };
const SEQS: Pool = { good: [0, 1, 2, 3, 7, 50, 1000], bad: [-1, 1.5, Number.MAX_SAFE_INTEGER + 2, 1e308, '3'] };

/** Field-name hints: the schemas share a handful of field kinds (src/protocol/fields.ts). */
const FIELDS: Readonly<Record<string, Pool>> = {
  id: REFS,
  clientMsgId: REFS,
  user: IDS,
  room: IDS,
  conversation: CONVERSATIONS,
  seq: SEQS,
  fromSeq: SEQS,
  toSeq: SEQS,
  ts: { good: [0, 1_700_000_000_000], bad: [-1, 'now'] },
  token: { good: ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln', 'not-a-jwt'], bad: ['', 'x'.repeat(9000)] },
  jurisdiction: { good: ['EU', 'US', 'APAC'], bad: ['eu', 'X', 'TOOLONGCODE'] },
  country: { good: ['DE', 'US', 'SG'], bad: ['d', 'DEU', '12'] },
};
const STRINGS: Pool = { good: ['a', 'alice', 'room:r'], bad: ['', '\u0000', 'x'.repeat(500)] };
const NUMBERS: Pool = { good: [0, 1, 7], bad: [-1, 1.5, 1e308] };

function fromPool(r: Rng, pool: Pool): unknown {
  return r.next() < 0.15 ? r.pick(pool.bad) : r.pick(pool.good);
}

/** A message body: any JSON, now and then too deep or too large for the limits. */
function body(r: Rng, limits: ProtocolLimits): unknown {
  switch (r.int(12)) {
    case 0: return 'x'.repeat(limits.maxBodyBytes + 1);
    case 1: {
      let v: unknown = 1;
      for (let i = 0; i <= limits.maxBodyDepth; i++) v = [v];
      return v;
    }
    case 2: return null;
    case 3: return r.pick(['hi', '', 'é😀']);
    case 4: return r.int(1000);
    case 5: return [1, 'two', { three: 3 }];
    default: return { text: r.pick(['hi', 'hello', '']), n: r.int(100), nested: { ok: r.next() < 0.5 } };
  }
}

function value(r: Rng, def: Def, field: string, limits: ProtocolLimits): unknown {
  switch (def.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(def.shape ?? {})) {
        const d = child.def;
        // Optional fields half the time; a required one is dropped now and then.
        if (d.type === 'optional' ? r.next() < 0.5 : r.next() < 0.03) continue;
        out[k] = value(r, d, k, limits);
      }
      // Strict objects: an unknown field now and then.
      // (defineProperty: an own `__proto__` key, as JSON.parse makes one on the server).
      if (r.next() < 0.04) Object.defineProperty(out, r.pick(['extra', '__proto__', 'constructor', 'Type']), { value: 1, enumerable: true, writable: true, configurable: true });
      return out;
    }
    case 'optional': return value(r, def.innerType!.def, field, limits);
    case 'literal': return r.next() < 0.01 ? 'nope' : def.values![0];
    case 'enum': return r.next() < 0.1 ? 'other' : r.pick(Object.values(def.entries!));
    case 'string': return fromPool(r, FIELDS[field] ?? STRINGS);
    case 'number': return fromPool(r, FIELDS[field] ?? NUMBERS);
    case 'custom': return field === 'body' ? body(r, limits) : fromPool(r, STRINGS);
    case 'record': {
      const n = r.next() < 0.05 ? r.pick([0, limits.maxResumeConversations + 1]) : 1 + r.int(3);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = i < 4 ? fromPool(r, CONVERSATIONS) : `room:r${i}`;
        out[String(key)] = value(r, def.valueType!.def, 'seq', limits);
      }
      return out;
    }
    default:
      throw new Error(`test/fuzz/schema-frames.ts: the client frame schemas use a zod ${def.type} (at ${field}), which this generator does not know: teach it`);
  }
}

export interface SchemaFrames {
  readonly types: readonly ClientFrameType[];
  /** One frame of `type` (or of a random type), as a plain object. */
  frame(r: Rng, type?: ClientFrameType): Record<string, unknown>;
}

/** A generator over the client frame schemas built for `limits`. */
export function schemaFrames(limits: ProtocolLimits): SchemaFrames {
  const schemas = clientFrameSchemas(limits) as unknown as Readonly<Record<ClientFrameType, { readonly def: Def }>>;
  const types = Object.keys(schemas) as ClientFrameType[];
  return {
    types,
    frame: (r, type) => value(r, schemas[type ?? r.pick(types)].def, '', limits) as Record<string, unknown>,
  };
}
