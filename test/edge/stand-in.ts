// A stand-in region node for edge tests until real region nodes exist: a real node:http server on
// 127.0.0.1 with GET /ready (200, or 503 when not ready), a WebSocket echo at /ws that greets with
// its region name, and /v1/* routes that echo what they received. It can be stopped (connections
// refused) and started again on the same port.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export class StandIn {
  ready = true;
  /** When set, /ready never answers (a hung region). */
  hang = false;
  /** When set, WebSocket upgrades get this answer (a region refusing the client, e.g. 429). */
  refuseUpgrades: { status: number; headers: Record<string, string>; body: string } | undefined;
  readonly seen: Seen[] = [];
  port = 0;
  #server: Server | undefined;
  readonly #wss = new WebSocketServer({ noServer: true });

  constructor(readonly region: string) {
    this.#wss.on('connection', (ws, req) => {
      ws.send(JSON.stringify({ hello: this.region, cookie: req.headers.cookie ?? null, xff: req.headers['x-forwarded-for'] ?? null, protocol: ws.protocol }));
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? '' : (data as Buffer).toString();
        // `close:<code>` asks the region to close with that code, to test propagation.
        if (text.startsWith('close:')) ws.close(Number(text.slice(6)), 'asked to');
        else ws.send(data, { binary: isBinary });
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.on('upgrade', (req, socket, head) => {
      const refuse = this.refuseUpgrades;
      if (refuse) {
        const head = [`HTTP/1.1 ${refuse.status} Refused`, 'Connection: close', `Content-Length: ${Buffer.byteLength(refuse.body)}`, ...Object.entries(refuse.headers).map(([k, v]) => `${k}: ${v}`)];
        socket.end(`${head.join('\r\n')}\r\n\r\n${refuse.body}`);
        return;
      }
      if (!this.ready || req.url?.split('?')[0] !== '/ws') {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit('connection', ws, req));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  /** Close the listener and every connection: new connections are refused. */
  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url?.split('?')[0] ?? '/';
    if (path === '/ready') {
      if (this.hang) return;
      res.writeHead(this.ready ? 200 : 503).end();
      return;
    }
    let body = '';
    for await (const chunk of req) body += (chunk as Buffer).toString();
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    if (path.startsWith('/v1/')) {
      const text = JSON.stringify({ region: this.region, method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'x-region-own': this.region, connection: 'keep-alive, x-drop-me', 'x-drop-me': 'secret' });
      res.end(text);
      return;
    }
    res.writeHead(404).end();
  }
}

export async function standIns(names: readonly string[]): Promise<Record<string, StandIn>> {
  const out: Record<string, StandIn> = {};
  for (const n of names) out[n] = await new StandIn(n).start();
  return out;
}

export function urlsOf(s: Record<string, StandIn>): Record<string, string> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.url]));
}

/** Poll until `check` returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
