/**
 * Requests awaiting their answer frames, correlated by frame id (`ref` in the answer).
 *
 * A request is written when a connection is open and re-written with a new id on the next
 * connection if the current one drops first (join, presence and the like are idempotent), so
 * callers see one promise however many reconnects happen. Each attempt has its own timeout;
 * no time runs while there is no connection. Requests the client makes for itself on a
 * connection (resume, retransmit) are `once`: a new connection redoes them from fresh state.
 */
import type { ClientFrame, ServerFrame } from '../protocol/mod.js';
import type { Clock } from './clock.js';
import { ClientClosedError, ClientTimeoutError, ConnectionDroppedError, RequestFailedError } from './errors.js';

export interface RequestSpec {
  /** The frame of one attempt, under the given id. */
  frame(id: string): ClientFrame;
  /** Answer frames that complete it (a resume gets one `resumed` per conversation). Default 1. */
  answers?: number;
  /**
   * An error frame is one of the answers, not the end of the request (a resume answers each
   * conversation with `resumed` or an error): the request resolves with every frame, errors
   * included, and is never retried.
   */
  errorsAnswer?: boolean;
  /** Write again on the next connection after a drop (default); false: fail with `lost`. */
  once?: boolean;
  /** Retryable server errors are retried this many times (after retryAfterMs or a short wait). Default 3. */
  retries?: number;
}

interface Pending {
  readonly spec: RequestSpec;
  readonly answers: ServerFrame[];
  id: string | undefined;
  timer: unknown;
  retries: number;
  resolve(frames: ServerFrame[]): void;
  reject(err: Error): void;
}

export interface Transport {
  /** Writes on the open connection; false when there is none. */
  write(frame: ClientFrame): boolean;
  nextId(prefix: string): string;
}

export class Requests {
  private readonly byId = new Map<string, Pending>();
  private readonly waiting = new Set<Pending>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly transport: Transport,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  request(spec: RequestSpec): Promise<ServerFrame[]> {
    return new Promise((resolve, reject) => {
      const p: Pending = { spec, answers: [], id: undefined, timer: undefined, retries: spec.retries ?? 3, resolve, reject };
      this.waiting.add(p);
      this.attempt(p);
    });
  }

  /** An answer frame; true when it belonged to a request. */
  answer(frame: ServerFrame & { ref?: string | undefined }): boolean {
    if (frame.ref === undefined) return false;
    const p = this.byId.get(frame.ref);
    if (!p) return false;
    if (frame.type === 'error' && p.spec.errorsAnswer !== true) {
      this.clear(p);
      if (frame.retryable && p.retries > 0) {
        p.retries -= 1;
        // The next attempt collects a whole set of answers again.
        p.answers.length = 0;
        p.timer = this.clock.setTimeout(() => this.attempt(p), frame.retryAfterMs ?? 250);
      } else {
        this.settle(p, new RequestFailedError(frame));
      }
      return true;
    }
    p.answers.push(frame);
    if (p.answers.length >= (p.spec.answers ?? 1)) this.settle(p, undefined);
    return true;
  }

  /** A connection is up: write every waiting request. */
  connected(): void {
    for (const p of this.waiting) if (p.id === undefined && p.timer === undefined) this.attempt(p);
  }

  /** The connection dropped: `once` requests fail, the others wait for the next connection. */
  disconnected(): void {
    for (const p of [...this.waiting]) {
      this.clear(p);
      p.answers.length = 0;
      if (p.spec.once) this.settle(p, new ConnectionDroppedError());
    }
  }

  close(err: Error = new ClientClosedError()): void {
    for (const p of [...this.waiting]) {
      this.clear(p);
      this.settle(p, err);
    }
  }

  private attempt(p: Pending): void {
    p.timer = undefined;
    if (!this.waiting.has(p)) return;
    const id = this.transport.nextId('r');
    if (!this.transport.write(p.spec.frame(id))) return; // written by connected()
    p.id = id;
    this.byId.set(id, p);
    p.timer = this.clock.setTimeout(() => {
      this.clear(p);
      this.settle(p, new ClientTimeoutError(`${p.spec.frame('_').type} request`, this.timeoutMs));
    }, this.timeoutMs);
  }

  private clear(p: Pending): void {
    if (p.timer !== undefined) this.clock.clearTimeout(p.timer);
    p.timer = undefined;
    if (p.id !== undefined) this.byId.delete(p.id);
    p.id = undefined;
  }

  private settle(p: Pending, err: Error | undefined): void {
    this.clear(p);
    if (!this.waiting.delete(p)) return;
    if (err) p.reject(err);
    else p.resolve(p.answers);
  }
}
