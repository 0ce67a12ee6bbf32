/** The dead-letter queue of async function invocations: one contract, SQLite and bus-KV implementations. */
export { SqliteDeadLetterQueue } from './sqlite.js';
export { KvDeadLetterQueue } from './kv.js';
export type { KvDlqOptions } from './kv.js';
export type { AttemptRecord, DeadLetter, DeadLetterQueue, ListOptions, NewDeadLetter } from './types.js';
