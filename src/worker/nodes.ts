/**
 * The region nodes a worker talks to, its own region's first. A call goes to the node in use and
 * fails over down the list (wrapping round) when that node does not answer (connection refused or
 * reset, timeout) or answers 5xx (503: its region's bus is down, or it is draining). A 4xx is the
 * node's answer and is returned as is; the node that answered stays in use. `home` tries the
 * first node alone: a worker whose own region's node works again goes back to it.
 */
import { NodeApiError, NodeClient } from './client.js';

/** Every node of the list failed for one call: why, node by node (the last failure is the `cause`). */
export class NodesUnavailableError extends Error {
  override name = 'NodesUnavailableError';
  readonly failures: readonly { readonly node: string; readonly error: unknown }[];

  constructor(failures: readonly { node: string; error: unknown }[]) {
    super(`no region node answered: ${failures.map((f) => `${f.node}: ${reason(f.error)}`).join('; ')}`, { cause: failures[failures.length - 1]?.error });
    this.failures = failures;
  }
}

function reason(err: unknown): string {
  if (err instanceof NodeApiError) return `${err.status} ${err.code}`;
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message} (${err.cause.message})` : err.message;
  return String(err);
}

/** Another node may do better: no answer at all, or a server-side failure. */
export function shouldFailOver(err: unknown): boolean {
  return !(err instanceof NodeApiError) || err.status >= 500;
}

export class NodePool {
  private readonly clients: readonly NodeClient[];
  private inUse = 0;

  constructor(urls: readonly string[], token: string) {
    this.clients = urls.map((u) => new NodeClient(u, token));
  }

  /** The base URL of the node in use. */
  get current(): string {
    return this.clients[this.inUse]!.base;
  }

  /** Is the worker's own region's node (the first) in use? */
  get onHome(): boolean {
    return this.inUse === 0;
  }

  /** Call the node in use, failing over down the list; the node that answered is used from then on. */
  async call<T>(fn: (c: NodeClient) => Promise<T>): Promise<T> {
    const start = this.inUse;
    const failures: { node: string; error: unknown }[] = [];
    for (let k = 0; k < this.clients.length; k++) {
      const i = (start + k) % this.clients.length;
      const client = this.clients[i]!;
      try {
        const out = await fn(client);
        this.use(i, start);
        return out;
      } catch (err) {
        if (!shouldFailOver(err)) {
          this.use(i, start);
          throw err;
        }
        failures.push({ node: client.base, error: err });
      }
    }
    throw new NodesUnavailableError(failures);
  }

  /** Call the first node only; when it answers, it is in use again. */
  async home<T>(fn: (c: NodeClient) => Promise<T>): Promise<T> {
    try {
      const out = await fn(this.clients[0]!);
      this.inUse = 0;
      return out;
    } catch (err) {
      if (!shouldFailOver(err)) this.inUse = 0;
      throw err;
    }
  }

  /** Switch to node `i`, unless `home` switched while this call was running (it wins). */
  private use(i: number, startedOn: number): void {
    if (this.inUse === startedOn) this.inUse = i;
  }
}
