/**
 * The wire protocol between clients and region nodes (docs/protocol.md): frame types and
 * schemas, parsing and encoding, error and close codes, conversation ids, limits.
 * The region node and the TypeScript client use only this module to speak the protocol.
 */

export { PROTOCOL_VERSION, SUBPROTOCOL, DEFAULT_LIMITS, MAX_CONVERSATION_LENGTH, resolveLimits } from './limits.js';
export type { ProtocolLimits } from './limits.js';
export {
  RequestError,
  CloseCode,
  isRetryable,
  requestErrorName,
  closeName,
  isReconnectClose,
  isTerminalClose,
  isRequestErrorCode,
} from './codes.js';
export type { RequestErrorName, RequestErrorCode, CloseName, CloseCodeValue } from './codes.js';
export { checkId, dmConversation, tryDmConversation, roomConversation, parseConversation, isConversation, dmPeer } from './conversation.js';
export type { Conversation, IdCheck } from './conversation.js';
export type { JsonValue } from './fields.js';
export { clientFrameSchemas, CLIENT_FRAME_TYPES, MAX_TOKEN_LENGTH } from './client-frames.js';
export type {
  ClientFrame,
  ClientFrameType,
  ClientFrameOf,
  AuthFrame,
  SendFrame,
  DeliveryAckFrame,
  ReadFrame,
  JoinFrame,
  LeaveFrame,
  PresenceQueryFrame,
  SubscribePresenceFrame,
  UnsubscribePresenceFrame,
  ClientHeartbeatFrame,
  ResumeFrame,
  RetransmitFrame,
} from './client-frames.js';
export { serverFrameSchemas, SERVER_FRAME_TYPES } from './server-frames.js';
export type {
  ServerFrame,
  ServerFrameType,
  ServerFrameOf,
  WelcomeFrame,
  WelcomeLimits,
  AckFrame,
  MessageFrame,
  ReceiptFrame,
  PresenceFrame,
  PresenceState,
  PresenceEventFrame,
  JoinedFrame,
  LeftFrame,
  OkFrame,
  ServerHeartbeatFrame,
  ResumedFrame,
  GapFrame,
  MigrateFrame,
  ErrorFrame,
} from './server-frames.js';
export { errorFrame, wireErrorName } from './error-frames.js';
export type { ErrorFrameOptions } from './error-frames.js';
export { parseClientFrame, parseServerFrame, encodeServerFrame, encodeClientFrame } from './parse.js';
export type { ClientParseResult, ServerParseResult } from './parse.js';
export { scanRef } from './ref.js';
