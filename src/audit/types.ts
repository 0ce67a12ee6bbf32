/**
 * The audit trail of a region node: who did what, when, from where, and how it ended — for admin
 * actions, worker (de)registration, DLQ replay and delete, and refused credentials. Never a
 * secret (credentials are named by kind and user id, never by value) and never a message body.
 *
 * MUST keep entries durably (the node's data dir with the embedded bus, JetStream with NATS) for
 * `retentionMs`; `query` MUST answer newest first.
 */

export type ActorKind = 'admin' | 'user' | 'worker' | 'dev' | 'anonymous';

export interface AuditEntry {
  /** Time-ordered id (`<ms>-<random>`): `after` pages by it. */
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly region: string;
  /** Who: the credential's kind, and the user id for client tokens (never the credential). */
  readonly actor: { readonly kind: ActorKind; readonly id?: string };
  /** What, as `area.verb`: `admin.drain`, `worker.register`, `dlq.replay`, `auth.refused`… */
  readonly action: string;
  /** On what: a worker id, a dead letter id, a path. */
  readonly target?: string;
  /** The client address. */
  readonly from?: string;
  readonly outcome: 'ok' | 'refused' | 'failed';
  /** HTTP status or close code, when there is one. */
  readonly status?: number;
  /** Entries folded into this one (rate-limited refusals: how many in its minute). */
  readonly count?: number;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at' | 'region'>;

export interface AuditQuery {
  /** Most entries (1–1000, default 100). */
  readonly limit?: number;
  /** Entries older than this id (the previous page's last). */
  readonly before?: string;
  /** Only this action, or actions starting with `prefix.` when it ends with `.`. */
  readonly action?: string;
}

export interface AuditStore {
  readonly kind: 'sqlite' | 'kv';
  append(entry: AuditEntry): Promise<void>;
  query(q: AuditQuery): Promise<AuditEntry[]>;
  close(): Promise<void>;
}
