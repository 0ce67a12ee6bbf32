/**
 * In-process function workers: handlers that run inside a region node's process (the worker
 * SDK's in-process mode). Each one is registered in the global registry like any worker, without
 * a URL, and answers CloudEvents on its own bus subject (`subjects.fnWorker(id)`), so callers in
 * every region reach it through the same routing and policies as an HTTP worker.
 */
import type { Bus, BusMessage, Subscription } from '../../bus/types.js';
import { subjects } from '../../bus/subjects.js';
import type { FnResponse } from './transport.js';
import { FUNCTION_HEADER, STATUS_HEADER } from './transport.js';

/** A handler receives the request as HTTP-like parts (binary mode) and answers the same way. */
export type LocalHandler = (req: { readonly headers: Readonly<Record<string, string>>; readonly body: Buffer }) => Promise<FnResponse>;

export class LocalFunctionHost {
  private readonly subs = new Map<string, Subscription>();
  private inFlight = 0;

  constructor(private readonly bus: Bus) {}

  get load(): number {
    return this.inFlight;
  }

  attach(workerId: string, handlers: ReadonlyMap<string, LocalHandler>): void {
    this.detach(workerId);
    const sub = this.bus.subscribe(subjects.fnWorker(workerId), (msg) => void this.answer(msg, handlers));
    this.subs.set(workerId, sub);
  }

  detach(workerId: string): void {
    this.subs.get(workerId)?.unsubscribe();
    this.subs.delete(workerId);
  }

  close(): void {
    for (const id of [...this.subs.keys()]) this.detach(id);
  }

  private async answer(msg: BusMessage, handlers: ReadonlyMap<string, LocalHandler>): Promise<void> {
    if (!msg.reply) return;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(msg.headers)) headers[k.toLowerCase()] = v;
    const fn = headers[FUNCTION_HEADER.toLowerCase()];
    const handler = fn === undefined ? undefined : handlers.get(fn);
    let res: FnResponse;
    this.inFlight++;
    try {
      res = handler ? await handler({ headers, body: Buffer.from(msg.data) }) : plain(404, `no in-process function ${JSON.stringify(fn)} on this worker`);
    } catch (err) {
      res = plain(500, err instanceof Error ? err.message : String(err));
    } finally {
      this.inFlight--;
    }
    const out: Record<string, string> = { [STATUS_HEADER]: String(res.status) };
    for (const [k, v] of Object.entries(res.headers)) if (!/[\r\n]/.test(v)) out[k] = v;
    try {
      this.bus.publish(msg.reply, res.body, { headers: out });
    } catch {
      // the caller gave up (or the bus closed): nothing to answer
    }
  }
}

function plain(status: number, message: string): FnResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from(message, 'utf8') };
}
