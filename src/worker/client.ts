/** The worker's calls to its region node's `/v1/workers` endpoints (fetch, Bearer token). */

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

export class NodeClient {
  private readonly base: string;

  constructor(
    node: string,
    private readonly token: string,
  ) {
    this.base = node.replace(/\/+$/, '');
  }

  register(reg: unknown): Promise<Lease> {
    return this.call<Lease>('POST', '/v1/workers', reg);
  }

  async heartbeat(id: string, load: { inFlight: number; metrics: Readonly<Record<string, number>> }): Promise<void> {
    await this.call('PUT', `/v1/workers/${encodeURIComponent(id)}/heartbeat`, load);
  }

  async deregister(id: string): Promise<void> {
    await this.call('DELETE', `/v1/workers/${encodeURIComponent(id)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
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
