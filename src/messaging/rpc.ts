/**
 * Node-to-node calls to a conversation's home region, over the bus: request/reply on
 * `mrd.logrpc.<region>` with queue group `logrpc`, so any node of the home region answers, the
 * local one first (queue groups prefer the publisher's region). JSON both ways; errors carry the
 * `MeridianError` code so the caller rethrows the same typed error it would have got locally.
 *
 * This is an internal protocol between Meridian nodes of one deployment (same version), not the
 * client protocol (src/protocol), so requests are validated but not versioned.
 */
import { z } from 'zod';
import { ErrorCode, MeridianError, isMeridianError } from '../errors/mod.js';
import type { ErrorCode as Code } from '../errors/mod.js';
import type { LogEntry } from '../log/mod.js';

const json = z.custom<unknown>(() => true);
const recipient = z.union([z.object({ user: z.string() }).strict(), z.object({ room: z.string() }).strict()]);

export const rpcRequest = z.discriminatedUnion('op', [
  z.object({ op: z.literal('send'), from: z.string(), to: recipient, body: json, clientMsgId: z.string(), region: z.string(), durability: z.enum(['local', 'replicated']).optional(), forwarded: z.boolean().optional() }),
  z.object({ op: z.literal('history'), conversation: z.string(), after: z.number().int().nonnegative(), limit: z.number().int().positive() }),
  z.object({ op: z.literal('lasts'), conversations: z.array(z.string()).max(1000) }),
  z.object({ op: z.literal('ack'), kind: z.enum(['delivered', 'read']), user: z.string(), conversation: z.string(), seq: z.number().int().nonnegative(), announced: z.boolean() }),
  z.object({ op: z.literal('cursor'), user: z.string(), conversation: z.string() }),
  z.object({ op: z.literal('pending'), user: z.string(), region: z.string().optional() }),
  // A home copying its entries here (replication.ts); no entries: just the last seq held.
  // `after`: the entries are the home's log read after this seq, so the seqs between it and the
  // first entry are gone at the home (retention, erasure) and the replica may skip them.
  /** From an old home back after a failover: seqs it acked as `local` that the new owner never got. */
  z.object({ op: z.literal('aside'), conversation: z.string(), region: z.string(), fromSeq: z.number().int().positive(), toSeq: z.number().int().positive() }),
  z.object({ op: z.literal('replicate'), conversation: z.string(), from: z.string(), entries: z.array(z.custom<LogEntry>((v) => typeof v === 'object' && v !== null)).max(1000), after: z.number().int().nonnegative().optional() }),
]);
export type RpcRequest = z.infer<typeof rpcRequest>;

export type RpcReply<T> = { ok: T } | { error: { code: string; message: string; details?: Record<string, unknown> } };

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeRpc(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

export function decodeRpcRequest(data: Uint8Array): RpcRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch (cause) {
    throw new MeridianError(ErrorCode.MsgInvalid, 'log rpc: request is not JSON', { cause });
  }
  const r = rpcRequest.safeParse(raw);
  if (!r.success) throw new MeridianError(ErrorCode.MsgInvalid, `log rpc: bad request: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

export function errorReply(err: unknown): RpcReply<never> {
  if (isMeridianError(err)) return { error: { code: err.code, message: err.message, details: err.details } };
  return { error: { code: ErrorCode.MsgUnavailable, message: `home node failed: ${(err as Error)?.message ?? String(err)}` } };
}

const KNOWN = new Set<string>(Object.values(ErrorCode));

/** Unwrap a reply: the value, or the home node's typed error rethrown here. */
export function decodeRpcReply<T>(data: Uint8Array): T {
  let reply: RpcReply<T>;
  try {
    reply = JSON.parse(dec.decode(data)) as RpcReply<T>;
  } catch (cause) {
    throw new MeridianError(ErrorCode.MsgUnavailable, 'log rpc: the home node answered something that is not JSON', { cause });
  }
  if ('ok' in reply) return reply.ok;
  const code = (KNOWN.has(reply.error.code) ? reply.error.code : ErrorCode.MsgUnavailable) as Code;
  throw new MeridianError(code, reply.error.message, { details: reply.error.details ?? {} });
}
