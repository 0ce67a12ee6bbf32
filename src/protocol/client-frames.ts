/**
 * Client → server frames: one strict zod schema per `type`, built for a set of limits.
 *
 * Client frames are strict (an unknown field is an INVALID_FIELD error naming it): a client that
 * sends a field this server does not understand learns so instead of silently losing a feature.
 * Server frames, in server-frames.ts, are the opposite: clients ignore what they do not know.
 * `id` is required on every frame the server answers and optional on the others, where it only
 * serves to reference an error.
 */

import { z } from 'zod';
import type { ProtocolLimits } from './limits.js';
import { DEFAULT_LIMITS } from './limits.js';
import { conversationField, idField, refField, seqField } from './fields.js';
import type { JsonValue, WireParams } from './fields.js';

/** Longest JWT accepted in `auth.token`. */
export const MAX_TOKEN_LENGTH = 8192;

function exactlyOne(keys: readonly string[], prefix: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const present = keys.filter((k) => value[k] !== undefined);
    if (present.length !== 1) {
      const names = keys.map((k) => `${prefix}${k}`).join(' or ');
      ctx.addIssue({ code: 'custom', message: `exactly one of ${names} is required` });
    }
  };
}

/** Every client frame schema, keyed by `type`. */
export function clientFrameSchemas(limits: ProtocolLimits = DEFAULT_LIMITS) {
  const ref = refField(limits.maxRefLength);
  const user = idField(limits.maxIdLength);
  const room = idField(limits.maxIdLength);
  const conversation = conversationField(limits.maxIdLength);

  return {
    auth: z
      .strictObject({
        type: z.literal('auth'),
        id: ref,
        token: z.string().min(1, 'must not be empty').max(MAX_TOKEN_LENGTH, `must be at most ${MAX_TOKEN_LENGTH} characters`).optional(),
        user: user.optional(),
        // Dev auth only (with a token the claims come signed in it): the user's jurisdiction and country of residence.
        jurisdiction: z.string().regex(/^[A-Z]{2,8}$/, 'must be an upper-case code such as EU').optional(),
        country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as DE').optional(),
      })
      .superRefine(exactlyOne(['token', 'user'], ''))
      .superRefine((f, ctx) => {
        for (const k of ['jurisdiction', 'country'] as const) {
          if (f.token !== undefined && f[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'goes with dev auth (user) only: with a token, the claim is in the token' });
        }
      }),
    send: z.strictObject({
      type: z.literal('send'),
      id: ref,
      to: z.strictObject({ user: user.optional(), room: room.optional() }).superRefine(exactlyOne(['user', 'room'], 'to.')),
      // Any JSON value; presence, size and depth are checked by the parser (BODY_TOO_LARGE).
      body: z.custom<JsonValue>((v) => v !== undefined, 'is required'),
      clientMsgId: refField(limits.maxClientMsgIdLength),
      // `local` or `replicated` (docs/protocol.md, Durability); absent: the deployment's default.
      durability: z.enum(['local', 'replicated']).optional(),
    }),
    delivery_ack: z.strictObject({ type: z.literal('delivery_ack'), id: ref.optional(), conversation, seq: seqField(1) }),
    read: z.strictObject({ type: z.literal('read'), id: ref.optional(), conversation, seq: seqField(1) }),
    join: z.strictObject({ type: z.literal('join'), id: ref, room }),
    leave: z.strictObject({ type: z.literal('leave'), id: ref, room }),
    presence_query: z.strictObject({ type: z.literal('presence_query'), id: ref, user: user.optional(), room: room.optional() }).superRefine(exactlyOne(['user', 'room'], '')),
    subscribe_presence: z.strictObject({ type: z.literal('subscribe_presence'), id: ref, user: user.optional(), room: room.optional() }).superRefine(exactlyOne(['user', 'room'], '')),
    unsubscribe_presence: z.strictObject({ type: z.literal('unsubscribe_presence'), id: ref, user: user.optional(), room: room.optional() }).superRefine(exactlyOne(['user', 'room'], '')),
    heartbeat: z.strictObject({ type: z.literal('heartbeat'), id: ref.optional(), ts: z.number().optional() }),
    resume: z.strictObject({
      type: z.literal('resume'),
      id: ref,
      positions: z.record(conversation, seqField(0)).superRefine((p, ctx) => {
        const n = Object.keys(p).length;
        if (n === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one conversation' });
        if (n > limits.maxResumeConversations) ctx.addIssue({ code: 'custom', message: `must name at most ${limits.maxResumeConversations} conversations` });
      }),
    }),
    retransmit: z
      .strictObject({ type: z.literal('retransmit'), id: ref, conversation, fromSeq: seqField(1), toSeq: seqField(1).optional() })
      .superRefine((f, ctx) => {
        if (f.toSeq !== undefined && f.toSeq < f.fromSeq) {
          const params: WireParams = { wire: 'BAD_SEQUENCE' };
          ctx.addIssue({ code: 'custom', message: 'must be >= fromSeq', path: ['toSeq'], params });
        }
      }),
  } as const;
}

type Schemas = ReturnType<typeof clientFrameSchemas>;
export type ClientFrameType = keyof Schemas;
export type ClientFrameOf<T extends ClientFrameType> = z.output<Schemas[T]>;

export type AuthFrame = ClientFrameOf<'auth'>;
export type SendFrame = ClientFrameOf<'send'>;
export type DeliveryAckFrame = ClientFrameOf<'delivery_ack'>;
export type ReadFrame = ClientFrameOf<'read'>;
export type JoinFrame = ClientFrameOf<'join'>;
export type LeaveFrame = ClientFrameOf<'leave'>;
export type PresenceQueryFrame = ClientFrameOf<'presence_query'>;
export type SubscribePresenceFrame = ClientFrameOf<'subscribe_presence'>;
export type UnsubscribePresenceFrame = ClientFrameOf<'unsubscribe_presence'>;
export type ClientHeartbeatFrame = ClientFrameOf<'heartbeat'>;
export type ResumeFrame = ClientFrameOf<'resume'>;
export type RetransmitFrame = ClientFrameOf<'retransmit'>;
export type ClientFrame = { [T in ClientFrameType]: ClientFrameOf<T> }[ClientFrameType];

export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = Object.keys(clientFrameSchemas()) as ClientFrameType[];

const cache = new WeakMap<ProtocolLimits, Schemas>();

/** Schemas for `limits`, built once per limits object (the hot path must not rebuild them). */
export function schemasFor(limits: ProtocolLimits): Schemas {
  let s = cache.get(limits);
  if (!s) {
    s = clientFrameSchemas(limits);
    cache.set(limits, s);
  }
  return s;
}
