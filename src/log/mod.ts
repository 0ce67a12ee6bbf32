/**
 * The durable message log (see types.ts for the contract, docs/log.md for the design): one
 * ordered log per conversation, embedded on SQLite or distributed on JetStream.
 */
export type { AppendInput, AppendResult, JsonValue, LogBody, LogEntry, LogOptions, MessageLog, ReadOptions, StoreManyResult, StoreOptions, StoreResult } from './types.js';
export { SqliteMessageLog, openSqliteLog } from './embedded.js';
export type { SqliteLogOptions } from './embedded.js';
export { NatsMessageLog, openNatsLog } from './nats.js';
export type { NatsLogOptions } from './nats.js';
export type { Limits, RetentionOf, RetentionPolicy } from './retention.js';
export { limitsOf } from './retention.js';
export { DEFAULT_DEDUPE_WINDOW_MS, DEFAULT_LIMIT, DEFAULT_MAX_BODY_BYTES, MAX_CONVERSATION, MAX_LIMIT } from './validate.js';
