/**
 * Messaging (types.ts is the contract): cross-region delivery of direct and room messages, the
 * conversation's home region and its log, cursors, receipts and the offline inbox.
 */
export { BusMessaging, createMessaging } from './messaging.js';
export type { MessagingOptions } from './messaging.js';
export { messageIdOf, encodeMessage, encodeReceipt } from './frames.js';
export type { Delivery, HistoryPage, Messaging, PendingConversation, Recipient, SendInput, SendResult, StoredMessage } from './types.js';
export { keys as homeStateKeys } from './keys.js';
export { eraseInboxIndex } from './home-state.js';
