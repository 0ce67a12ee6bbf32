/**
 * Conversion between nats.js messages and Meridian's `BusMessage` (headers: one value per name).
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Msg, MsgHdrs } from '@nats-io/transport-node';
import type { BusMessage, Headers } from '../types.js';

const EMPTY_HEADERS: Headers = Object.freeze({});

export function toNatsHeaders(h: Headers | undefined): MsgHdrs | undefined {
  if (!h) return undefined;
  const keys = Object.keys(h);
  if (keys.length === 0) return undefined;
  const out = natsHeaders();
  for (const k of keys) out.set(k, h[k]!);
  return out;
}

export function fromNatsHeaders(h: MsgHdrs | undefined): Headers {
  if (!h) return EMPTY_HEADERS;
  const keys = h.keys();
  if (keys.length === 0) return EMPTY_HEADERS;
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = h.get(k);
  return out;
}

export function toBusMessage(m: Msg): BusMessage {
  const msg: { subject: string; data: Uint8Array; headers: Headers; reply?: string } = {
    subject: m.subject,
    data: m.data,
    headers: fromNatsHeaders(m.headers),
  };
  if (m.reply) msg.reply = m.reply;
  return msg;
}
