/**
 * Asynchronous invocations (`Prefer: respond-async`): the resource a caller polls at
 * `GET /v1/invocations/{id}`. Kept in the memory of the node that accepted the invocation
 * (its `Location` names that node's URL path); bounded in count and age. What must survive a
 * restart is a failure, and failures go to the durable DLQ.
 */
import { randomBytes } from 'node:crypto';
import type { AttemptRecord } from '../dlq/mod.js';
import type { StoredEvent } from './event.js';

export type InvocationStatus = 'pending' | 'running' | 'succeeded' | 'failed';

export interface Invocation {
  readonly id: string;
  readonly function: string;
  readonly eventId: string;
  /** The users the invocation's event names (CloudEvents `subject`, extension `mrduser`): erasure finds it by them. */
  readonly users?: readonly string[];
  status: InvocationStatus;
  readonly acceptedAt: number;
  finishedAt?: number;
  readonly attempts: AttemptRecord[];
  /** On success: the handler's status and its CloudEvent (or raw body as an event-less answer). */
  result?: { readonly status: number; readonly event?: StoredEvent; readonly bodyBase64?: string; readonly contentType?: string };
  /** On failure: the last error, and the DLQ letter holding it. */
  error?: { readonly code: string; readonly message: string };
  dlqId?: string;
}

export const newInvocationId = (): string => `inv_${randomBytes(12).toString('base64url')}`;

export class InvocationStore {
  private readonly items = new Map<string, Invocation>();

  constructor(
    private readonly maxItems = 10_000,
    private readonly maxAgeMs = 3_600_000,
  ) {}

  add(inv: Invocation): void {
    this.items.set(inv.id, inv);
    this.trim();
  }

  get(id: string): Invocation | undefined {
    return this.items.get(id);
  }

  /** Remove every record `match` selects (erasure, src/services/erase.ts); how many. */
  eraseWhere(match: (inv: Invocation) => boolean): number {
    let n = 0;
    for (const [id, inv] of this.items) {
      if (!match(inv)) continue;
      this.items.delete(id);
      n++;
    }
    return n;
  }

  private trim(): void {
    const cutoff = Date.now() - this.maxAgeMs;
    for (const [id, inv] of this.items) {
      // Map order is insertion order: oldest first.
      if (this.items.size <= this.maxItems && inv.acceptedAt >= cutoff) break;
      if (inv.status === 'pending' || inv.status === 'running') continue;
      this.items.delete(id);
    }
  }
}
