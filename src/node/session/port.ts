/**
 * What a capability's frame handlers (messaging.ts, rooms.ts, replay.ts) get of their session:
 * its node, writing and errors, its conversation streams. Not the session itself: its socket,
 * state machine, rate limits and the other capabilities' state stay out of their reach.
 */
import type { RequestErrorName, ServerFrame } from '../../protocol/mod.js';
import type { NodeContext } from '../context.js';
import type { Outbound } from '../deliver.js';
import type { ConversationStream } from '../stream.js';

export interface SessionPort {
  /** The session id (presence counts sessions by it). */
  readonly id: string;
  readonly ctx: NodeContext;
  readonly out: Outbound;
  /** Closed or closing: an answer that arrives now is not sent. */
  readonly closed: boolean;
  /** Set while the offline inbox is being listed: direct messages wait for it. */
  readonly inboxGate: Promise<void> | undefined;
  /** Write a control frame (counted). */
  send(frame: ServerFrame): void;
  /** Answer a request with an error frame (`path`: the field it is about). */
  error(name: RequestErrorName, message: string, ref: string | undefined, extra?: { path?: string; retryAfterMs?: number }): void;
  /** A failure as an error frame: typed errors by their code, bugs logged and answered INTERNAL_ERROR. */
  fail(err: unknown, ref: string | undefined, path?: string): void;
  /** False (and deliveries stopped) once the socket is no longer open, whoever closed it. */
  deliverable(): boolean;
  /** This connection's conversations as it sees them (stream.ts). */
  readonly streams: Streams;
}

export interface Streams {
  /** The conversation's stream, made on first use (closed, and not kept, once the session stopped). */
  stream(conversation: string): ConversationStream;
  /** The stream if there is one. */
  get(conversation: string): ConversationStream | undefined;
  /** Close and forget it (a room left). */
  drop(conversation: string): void;
}
