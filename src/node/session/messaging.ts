/**
 * Messaging frames of one session: `send` (ordered per conversation), `delivery_ack` and `read`
 * (cursors), and the user's live deliveries (direct messages and receipts). Made on first use.
 */
import type { Delivery } from '../../messaging/types.js';
import { roomConversation, tryDmConversation } from '../../protocol/mod.js';
import type { DeliveryAckFrame, ReadFrame, SendFrame } from '../../protocol/mod.js';
import { mayReadId, maySend, NOT_A_PARTICIPANT } from '../access-rules.js';
import type { Identity } from '../auth.js';
import { framedDelivery } from '../deliver.js';
import type { SessionPort } from './port.js';

export class MessagingFrames {
  /** The last send of each conversation: the next one waits for it. */
  #sendChains: Map<string, Promise<unknown>> | undefined;

  constructor(
    readonly s: SessionPort,
    readonly id: Identity,
  ) {}

  async send(f: SendFrame): Promise<void> {
    const { s, id } = this;
    const limits = s.ctx.opts.limits;
    let conversation: string;
    if (f.to.user !== undefined) {
      const dm = tryDmConversation(id.user, f.to.user, limits.maxIdLength);
      if (!dm.ok) return s.error('INVALID_FIELD', `to.user: ${dm.reason}`, f.id, { path: 'to.user' });
      conversation = dm.id;
    } else {
      const may = maySend(id, f.to);
      if (!may.ok) return s.error('FORBIDDEN', `${may.path}: ${may.reason}`, f.id, { path: may.path });
      conversation = roomConversation(f.to.room!);
    }
    // One send at a time per conversation and connection: a sender's messages keep their order.
    const chains = (this.#sendChains ??= new Map<string, Promise<unknown>>());
    const prev = chains.get(conversation) ?? Promise.resolve();
    const to = f.to.user !== undefined ? { user: f.to.user } : { room: f.to.room! };
    const p = prev.then(() => s.ctx.messaging.send({ from: id.user, to, body: f.body, clientMsgId: f.clientMsgId, ...(f.durability === undefined ? {} : { durability: f.durability }) }));
    const settled = p.catch(() => undefined);
    chains.set(conversation, settled);
    void settled.then(() => {
      if (chains.get(conversation) === settled) chains.delete(conversation);
    });
    try {
      const r = await p;
      if (s.closed) return;
      s.send({ type: 'ack', ref: f.id, messageId: r.messageId, conversation: r.conversation, seq: r.seq, timestamp: r.timestamp, duplicate: r.duplicate, durability: r.durability });
    } catch (err) {
      s.fail(err, f.id);
    }
  }

  /** `delivery_ack` and `read`: raise the user's cursor, never past the conversation's last seq. */
  async cursor(f: DeliveryAckFrame | ReadFrame): Promise<void> {
    const { s, id } = this;
    if (!mayReadId(id, f.conversation, s.ctx.opts.limits.maxIdLength)) return s.error('FORBIDDEN', `conversation: ${NOT_A_PARTICIPANT}`, f.id, { path: 'conversation' });
    try {
      const hwm = s.streams.get(f.conversation)?.hwm;
      if (hwm === undefined || f.seq > hwm) {
        const last = await s.ctx.messaging.lastSeq(f.conversation);
        if (f.seq > last) return s.error('BAD_SEQUENCE', `seq: beyond the conversation's last seq ${last}`, f.id, { path: 'seq' });
      }
      if (f.type === 'delivery_ack') await s.ctx.messaging.ackDelivered(id.user, f.conversation, f.seq);
      else await s.ctx.messaging.ackRead(id.user, f.conversation, f.seq);
    } catch (err) {
      s.fail(err, f.id);
    }
  }

  /** A delivery to this session's user (subscribed at auth). */
  userDelivery(d: Delivery): void {
    try {
      this.#userDelivery(d);
    } catch (err) {
      // Never let one session's failure stop messaging's fan-out to the others.
      this.s.ctx.onInternalError(err, 'delivery');
    }
  }

  #userDelivery(d: Delivery): void {
    const { s } = this;
    if (!s.deliverable()) return;
    if (d.kind === 'receipt') {
      if (s.out.live(framedDelivery(d))) s.ctx.metrics.framesOut.inc('receipt');
      return;
    }
    const stream = s.streams.stream(d.conversation);
    const gate = s.inboxGate;
    // While the inbox is listed, a live message could overtake the replay of its conversation.
    if (gate !== undefined && !stream.busy) stream.run(() => gate).catch(() => undefined);
    stream.live(d);
  }
}
