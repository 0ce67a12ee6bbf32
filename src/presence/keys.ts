/**
 * The presence bucket's keys and values: the only place that spells them.
 *
 *   n.<region>.<node>                     → { v, epoch, beat, at }   liveness of one node
 *   u.<user>.<region>.<node>              → { v, epoch, sessions }   a user's sessions on a node
 *   r.<room>.<user>.<region>.<node>       → { v, epoch, sessions }   sessions of a user in a room
 *   any of them                           → { v, gone }              tombstone (garbage collected)
 *
 * Every id is one token through `kvToken()`, so an id can never add or remove a token and keys
 * parse back unambiguously by position. Region and node are both in the key because node ids are
 * only unique within a region (`subjects.node(region, node)`).
 *
 * `epoch` names one run of a node: records count only while the node's liveness key carries the
 * same epoch, so the keys a crashed run left behind never come back to life when a node of the
 * same name starts again. `sessions` is 0 while the node holds a user (or membership) for the grace
 * after its last session. A tombstone is a PUT, written with compare-and-set by garbage collectors,
 * so it can never replace a record written after the one the collector judged.
 */
import { kvToken, unKvToken } from '../bus/subjects.js';

export interface NodeValue {
  readonly epoch: string;
  /** Increases with every liveness write of this run (lets a node recognise its own echo). */
  readonly beat: number;
  /** Writer's clock, for people reading the bucket; liveness is never judged from it. */
  readonly at: number;
}

export interface RecordValue {
  readonly epoch: string;
  readonly sessions: number;
}

export type ParsedKey =
  | { readonly kind: 'n'; readonly region: string; readonly node: string; readonly nodeId: string }
  | { readonly kind: 'u'; readonly user: string; readonly region: string; readonly node: string; readonly nodeId: string }
  | { readonly kind: 'r'; readonly room: string; readonly user: string; readonly region: string; readonly node: string; readonly nodeId: string };

/** A node's identity in keys: `<region>.<node>` tokens. */
export const nodeId = (region: string, node: string): string => `${kvToken(region)}.${kvToken(node)}`;

export const keys = {
  node: (id: string) => `n.${id}`,
  user: (user: string, id: string) => `u.${kvToken(user)}.${id}`,
  room: (room: string, user: string, id: string) => `r.${kvToken(room)}.${kvToken(user)}.${id}`,
} as const;

/** Patterns matching every record of `user` in a region's bucket: its sessions and its room joins (erasure, src/erasure). */
export const userPatterns = (user: string): readonly string[] => [`u.${kvToken(user)}.*.*`, `r.*.${kvToken(user)}.*.*`];

/** Parse a key of the bucket; undefined for anything this module did not write. */
export function parseKey(key: string): ParsedKey | undefined {
  const t = key.split('.');
  try {
    if (t[0] === 'n' && t.length === 3) {
      return { kind: 'n', region: unKvToken(t[1]!), node: unKvToken(t[2]!), nodeId: `${t[1]}.${t[2]}` };
    }
    if (t[0] === 'u' && t.length === 4) {
      return { kind: 'u', user: unKvToken(t[1]!), region: unKvToken(t[2]!), node: unKvToken(t[3]!), nodeId: `${t[2]}.${t[3]}` };
    }
    if (t[0] === 'r' && t.length === 5) {
      return { kind: 'r', room: unKvToken(t[1]!), user: unKvToken(t[2]!), region: unKvToken(t[3]!), node: unKvToken(t[4]!), nodeId: `${t[3]}.${t[4]}` };
    }
  } catch {
    // an undecodable token: not one of ours
  }
  return undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const encodeNode = (v: NodeValue): Uint8Array => encoder.encode(JSON.stringify({ v: 1, epoch: v.epoch, beat: v.beat, at: v.at }));
export const encodeRecord = (v: RecordValue): Uint8Array => encoder.encode(JSON.stringify({ v: 1, epoch: v.epoch, sessions: v.sessions }));
export const encodeTombstone = (by: string): Uint8Array => encoder.encode(JSON.stringify({ v: 1, gone: by }));

function parse(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.byteLength === 0) return undefined;
  try {
    const v: unknown = JSON.parse(decoder.decode(bytes));
    if (typeof v === 'object' && v !== null && (v as { v?: unknown }).v === 1) return v as Record<string, unknown>;
  } catch {
    // fall through: unreadable values count as absent, they never crash the feed
  }
  return undefined;
}

/** A liveness value, or undefined for deletes, tombstones and anything unreadable. */
export function decodeNode(bytes: Uint8Array): NodeValue | undefined {
  const v = parse(bytes);
  if (!v || typeof v['epoch'] !== 'string' || !Number.isSafeInteger(v['beat'])) return undefined;
  return { epoch: v['epoch'], beat: v['beat'] as number, at: typeof v['at'] === 'number' ? v['at'] : 0 };
}

/** A user or room record, or undefined for deletes, tombstones and anything unreadable. */
export function decodeRecord(bytes: Uint8Array): RecordValue | undefined {
  const v = parse(bytes);
  const sessions = v?.['sessions'];
  if (!v || typeof v['epoch'] !== 'string' || !Number.isSafeInteger(sessions) || (sessions as number) < 0) return undefined;
  return { epoch: v['epoch'], sessions: sessions as number };
}
