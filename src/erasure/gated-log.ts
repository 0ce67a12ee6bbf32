/**
 * The region's log as the rest of the region sees it: every call passes through, except `read`,
 * which first waits until the region has seen every erasure made while it was away (service.ts).
 * Messaging, history, resume and the replication pages all read through it, so no path serves an
 * entry that an erasure this region has not processed yet should have removed.
 */
import type { AppendInput, AppendResult, LogEntry, MessageLog, ReadOptions, StoreManyResult, StoreOptions, StoreResult } from '../log/mod.js';

export class GatedLog implements MessageLog {
  constructor(
    readonly inner: MessageLog,
    private readonly ready: () => Promise<void>,
  ) {}

  append(conversation: string, input: AppendInput): Promise<AppendResult> {
    return this.inner.append(conversation, input);
  }
  store(entry: LogEntry, opts?: StoreOptions): Promise<StoreResult> {
    return this.inner.store(entry, opts);
  }
  storeMany(entries: readonly LogEntry[], opts?: StoreOptions): Promise<StoreManyResult> {
    return this.inner.storeMany(entries, opts);
  }
  async read(conversation: string, opts?: ReadOptions): Promise<LogEntry[]> {
    await this.ready();
    return this.inner.read(conversation, opts);
  }
  last(conversation: string): Promise<number> {
    return this.inner.last(conversation);
  }
  firstAvailable(conversation: string): Promise<number> {
    return this.inner.firstAvailable(conversation);
  }
  erase(conversation: string): Promise<number> {
    return this.inner.erase(conversation);
  }
  eraseFrom(from: string): Promise<number> {
    return this.inner.eraseFrom(from);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
