/** The worker's calls to one region node's `/v1/workers` endpoints (fetch, Bearer token). */

/** A region node answered with an error (its typed `{ error: { code, message } }` when it sent one). */
export class NodeApiError extends Error {
  override name = 'NodeApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface Lease {
  readonly id: string;
  readonly region: string;
  readonly heartbeatIntervalMs: number;
  readonly staleAfterMs: number;
  readonly evictAfterMs: number;
}

export type Load = { inFlight: number; metrics: Readonly<Record<string, number>> };

export class NodeClient {
  readonly base: string;

  constructor(
    node: string,
    private readonly token: string,
  ) {
    this.base = node.replace(/\/+$/, '');
  }

  register(reg: unknown, timeoutMs: number): Promise<Lease> {
    return this.call<Lease>('POST', '/v1/workers', timeoutMs, reg);
  }

  async heartbeat(id: string, load: Load, timeoutMs: number): Promise<void> {
    await this.call('PUT', `/v1/workers/${encodeURIComponent(id)}/heartbeat`, timeoutMs, load);
  }

  async deregister(id: string, timeoutMs: number): Promise<void> {
    await this.call('DELETE', `/v1/workers/${encodeURIComponent(id)}`, timeoutMs);
  }

  private async call<T>(method: string, path: string, timeoutMs: number, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) {
      let err: { code?: string; message?: string; details?: unknown } = {};
      try {
        err = (JSON.parse(text) as { error?: typeof err }).error ?? {};
      } catch {
        // not JSON
      }
      throw new NodeApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? text.slice(0, 200), err.details);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}
