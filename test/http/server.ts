// A real node:http server on 127.0.0.1 for the toolkit's tests, and raw HTTP/1.1 over one socket
// (to see exactly what a keep-alive client sees: a second answer on the same connection, or a reset).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface TestServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>, onUpgrade?: (req: IncomingMessage, socket: Duplex) => void): Promise<TestServer> {
  const server: Server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      res.statusCode = 599;
      res.end(String(err));
    });
  });
  if (onUpgrade !== undefined) server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Write `requests` on one connection (each sent after the previous answer arrived) and return
 * the answers read, plus how the connection ended: 'open' (still usable), 'closed' (a clean end
 * from the server) or 'reset'.
 */
export async function rawExchange(port: number, requests: readonly string[], timeoutMs = 3000): Promise<{ answers: RawAnswer[]; ended: 'open' | 'closed' | 'reset' }> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let buf = '';
  let ended: 'open' | 'closed' | 'reset' = 'open';
  let wake: (() => void) | undefined;
  socket.on('data', (d: string) => {
    buf += d;
    wake?.();
  });
  socket.on('end', () => {
    ended = 'closed';
    wake?.();
  });
  socket.on('error', () => {
    ended = 'reset';
    wake?.();
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const answers: RawAnswer[] = [];
  const deadline = Date.now() + timeoutMs;
  for (const r of requests) {
    if (ended !== 'open') break;
    socket.write(r);
    let answer: RawAnswer | undefined;
    while ((answer = takeAnswer()) === undefined && ended === 'open' && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    answer ??= takeAnswer();
    if (answer === undefined) break;
    answers.push(answer);
  }
  // Let a close that follows the last answer arrive.
  await new Promise((r) => setTimeout(r, 100));
  socket.destroy();
  return { answers, ended };

  function takeAnswer(): RawAnswer | undefined {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...lines] = buf.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? '0');
    if (buf.length < end + 4 + len) return undefined;
    const body = buf.slice(end + 4, end + 4 + len);
    buf = buf.slice(end + 4 + len);
    return { status: Number(statusLine!.split(' ')[1]), headers, body };
  }
}

/** A request with a declared length. */
export const post = (path: string, body: string, extra = ''): string => `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** A chunked request, its body in one chunk (no declared length: the limit is found while reading). */
export const postChunked = (path: string, body: string): string => `POST ${path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;

export const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`;
