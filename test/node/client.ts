// A bare test client over the `ws` package: every server frame is parsed with the protocol's
// client-side parser (so a malformed server frame fails the test), kept in arrival order, and
// awaited by predicate. No retries or reconnection: tests see exactly what the node sends.
import { WebSocket } from 'ws';
import { SUBPROTOCOL, encodeClientFrame, parseServerFrame } from '../../src/protocol/mod.js';
import type { ClientFrame, ServerFrame, ServerFrameOf, ServerFrameType } from '../../src/protocol/mod.js';

export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly frames: ServerFrame[] = [];
  readonly invalid: string[] = [];
  readonly closed: Promise<Closed>;
  #waiters: (() => void)[] = [];
  #n = 0;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : (data as Buffer).toString('utf8');
      const r = parseServerFrame(text);
      if (r.ok) this.frames.push(r.frame);
      else this.invalid.push(`${r.reason}: ${text.slice(0, 200)}`);
      this.#wake();
    });
    ws.on('close', () => this.#wake());
    ws.on('error', () => undefined);
  }

  static open(url: string, protocols: string | string[] | null = SUBPROTOCOL): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = protocols === null ? new WebSocket(url) : new WebSocket(url, protocols);
      const c = new TestClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    });
  }

  /** Connect and authenticate as `user` in dev mode. */
  static async dev(url: string, user: string): Promise<TestClient> {
    const c = await TestClient.open(url);
    c.send({ type: 'auth', id: 'a', user });
    await c.next('welcome');
    return c;
  }

  static async token(url: string, token: string): Promise<TestClient> {
    const c = await TestClient.open(url);
    c.send({ type: 'auth', id: 'a', token });
    await c.next('welcome');
    return c;
  }

  id(): string {
    return `f${++this.#n}`;
  }

  send(frame: ClientFrame): void {
    this.ws.send(encodeClientFrame(frame));
  }

  raw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** The first frame (from index `from`) matching; waits up to `timeoutMs`. */
  async find<T extends ServerFrameType>(type: T, pred: (f: ServerFrameOf<T>) => boolean = () => true, timeoutMs = 5000): Promise<ServerFrameOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find((x) => x.type === type && pred(x as ServerFrameOf<T>));
      if (f) return f as ServerFrameOf<T>;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed before a ${type} frame arrived; got ${JSON.stringify(this.frames).slice(0, 800)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(-1500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Like find, but removes the frame so the next call finds the next one. */
  async next<T extends ServerFrameType>(type: T, pred: (f: ServerFrameOf<T>) => boolean = () => true, timeoutMs = 5000): Promise<ServerFrameOf<T>> {
    const f = await this.find(type, pred, timeoutMs);
    this.frames.splice(this.frames.indexOf(f), 1);
    return f;
  }

  /** Answer to a request: the frame with `ref === id` (any type, e.g. error). */
  async answer(ref: string, timeoutMs = 5000): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find((x) => 'ref' in x && x.ref === ref);
      if (f) {
        this.frames.splice(this.frames.indexOf(f), 1);
        return f;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed before the answer to ${ref}`);
      if (Date.now() > deadline) throw new Error(`no answer to ${ref} within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(-1500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Send a request frame and wait for its answer. */
  async request(frame: ClientFrame & { id: string }, timeoutMs = 5000): Promise<ServerFrame> {
    this.send(frame);
    return this.answer(frame.id, timeoutMs);
  }

  /** Messages of a conversation received so far, in arrival order. */
  messages(conversation?: string): ServerFrameOf<'message'>[] {
    return this.frames.filter((f): f is ServerFrameOf<'message'> => f.type === 'message' && (conversation === undefined || f.conversation === conversation));
  }

  async waitMessages(conversation: string, n: number, timeoutMs = 5000): Promise<ServerFrameOf<'message'>[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages(conversation).length < n) {
      if (Date.now() > deadline) throw new Error(`${this.messages(conversation).length}/${n} messages of ${conversation} within ${timeoutMs} ms`);
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('closed while waiting for messages');
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.messages(conversation);
  }

  /** Wait until `n` acks have arrived (and drop them). */
  async waitAcks(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let got = 0;
    for (;;) {
      for (let i = this.frames.length - 1; i >= 0; i--) {
        if (this.frames[i]!.type === 'ack') {
          this.frames.splice(i, 1);
          got++;
        }
      }
      const errors = this.frames.filter((f) => f.type === 'error');
      if (errors.length > 0) throw new Error(`errors instead of acks: ${JSON.stringify(errors.slice(0, 3))}`);
      if (got >= n) return;
      if (Date.now() > deadline) throw new Error(`${got}/${n} acks within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): Promise<Closed> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }
}

export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
